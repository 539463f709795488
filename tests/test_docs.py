"""The repository explains itself: every document the code, configs, tests and docs cite is in the repository, every
cited section (``§``) exists in the file it names, every relative link of a Markdown file resolves, and the README
stays a front page whose commands are run by a test or by the demo."""
import os
import re
import subprocess

from conftest import ROOT

TEXT = ('.py', '.md', '.sh')
# what the team's private notes and machines are called: none of it may be named by the repository
OUTSIDE = re.compile(r'\.\./shared|/work/|\b(?:SPEC|TAGCLIP|TRAINING_FREE|TRAINING_FREE_PROTOCOLS|DESIGN|ENVIRONMENT)'
                     r'\.md\b')
DOC_REF = re.compile(r'(docs/[\w./-]+\.md)')
SECTION = re.compile(r'§\s?(\d+(?:\.\d+)*)')


def repo_files():
    out = subprocess.check_output(['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT, text=True).split()
    return [f for f in out if f.endswith(TEXT) and os.path.isfile(os.path.join(ROOT, f))]


def headings(doc: str):
    """The section numbers a doc defines: headings '## §8 ...' / '### §8.1 ...'."""
    with open(os.path.join(ROOT, doc)) as f:
        return set(re.findall(r'^#+ §(\d+(?:\.\d+)*)\s', f.read(), re.M))


def citations(path: str, text: str):
    """(doc, section or None) for every citation in a file; a '§N' cites the nearest doc named before it within the
    same comment or paragraph (200 characters), or, in a doc itself, that doc."""
    out = [(m.group(1), None) for m in DOC_REF.finditer(text)]
    for m in SECTION.finditer(text):
        before = text[max(0, m.start() - 200):m.start()]
        refs = DOC_REF.findall(before.split('\n\n')[-1])
        if refs:
            out.append((refs[-1], m.group(1)))
        elif path.startswith('docs/'):
            out.append((path, m.group(1)))
        else:
            out.append((None, m.group(1)))
    return out


def test_no_reference_leaves_the_repository_and_every_cited_doc_and_section_exists():
    bad = []
    for path in repo_files():
        if path == 'tests/test_docs.py':
            continue
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for m in OUTSIDE.finditer(text):
            bad.append(f'{path}: names {m.group(0)!r}, which is not in the repository')
        for doc, section in citations(path, text):
            if doc is None:
                bad.append(f'{path}: §{section} names no document (write docs/<file>.md §{section})')
            elif not os.path.isfile(os.path.join(ROOT, doc)):
                bad.append(f'{path}: cites {doc}, which does not exist')
            elif section is not None and section not in headings(doc) and section.split('.')[0] not in headings(doc):
                bad.append(f'{path}: cites {doc} §{section}, which has no such section')
    assert not bad, '\n'.join(bad[:40])


def test_the_citation_check_catches_a_missing_doc_and_a_missing_section(tmp_path):
    # the checker itself on planted faults (a check that cannot fail proves nothing)
    assert citations('x.py', '# see docs/nowhere.md §3') == [('docs/nowhere.md', None), ('docs/nowhere.md', '3')]
    assert '99' not in headings('docs/reclip_pp.md') and '8' in headings('docs/reclip_pp.md')
    assert citations('x.py', 'a § 4 alone') == [(None, '4')]
    assert OUTSIDE.search('see SPEC.md') and OUTSIDE.search('../shared/docs') and not OUTSIDE.search('docs/api.md')


def test_every_relative_markdown_link_resolves():
    bad = []
    for path in repo_files():
        if not path.endswith('.md'):
            continue
        with open(os.path.join(ROOT, path)) as f:
            text = f.read()
        for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
            if '://' in target:
                continue
            if not os.path.exists(os.path.normpath(os.path.join(ROOT, os.path.dirname(path), target))):
                bad.append(f'{path}: link to {target} does not resolve')
    assert not bad, '\n'.join(bad)


def readme_commands():
    with open(os.path.join(ROOT, 'README.md')) as f:
        text = f.read()
    cmds = []
    for line in re.findall(r'`(python [^`]+)`|^(python tools/[^\n#]+)', text, re.M):
        cmd = (line[0] or line[1]).strip().rstrip('\\').strip()
        cmds.append(cmd)
    return text, cmds


def test_readme_is_a_front_page_and_each_command_is_run_by_a_test():
    text, cmds = readme_commands()
    assert len(text.splitlines()) <= 150
    first_screen = '\n'.join(text.splitlines()[:40])
    for family in ('ReCLIP++', 'ReCLIP', 'Training-free', 'TagCLIP'):
        assert family in first_screen, family
    tests = ''
    for dirpath, _, names in os.walk(os.path.join(ROOT, 'tests')):
        for n in names:
            if n.endswith('.py') and n != 'test_docs.py':
                with open(os.path.join(dirpath, n)) as f:
                    tests += f.read()
    with open(os.path.join(ROOT, 'tools', 'run_demo.py')) as f:
        demo = f.read()
    assert cmds, 'no command found in the README'
    missing = []
    for cmd in cmds:
        parts = cmd.split()
        tool = next(p for p in parts if p.startswith('tools/'))
        configs = [p for p in parts if p.startswith('configs/')]
        assert os.path.isfile(os.path.join(ROOT, tool)), cmd
        for c in configs:
            assert os.path.isfile(os.path.join(ROOT, c)), cmd
        # run by a test (the tool on that config, through run_tool or the runner) or by the demo
        runs = [t for t in (tests, demo) if tool in t and all(c in t for c in configs)]
        if not runs:
            missing.append(cmd)
    assert not missing, 'README commands no test or demo runs:\n' + '\n'.join(missing)
