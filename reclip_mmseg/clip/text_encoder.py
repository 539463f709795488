"""``OpenCLIPTextEncoder``: the frozen CLIP text tower (docs/reclip_pp.md §2–3).

Two uses: the Query head's prompt-ensemble class embeddings (cached on disk), and the Reference prompt
learner's learned-context prompts (gradient flows through the frozen tower to the context vectors).

Both use exact shortcuts that rest on the text transformer's causal attention: the feature read at the
end-of-text (EOT) position depends only on the tokens up to it, so
- ensembles are encoded only up to the longest EOT position in the batch, not all 77 positions, in batches
  of prompts sorted by that position;
- learned-context prompts of all classes share ``[SOS] v_1 … v_M``, whose hidden states are then identical
  for every class: they are computed once per pass, and only the class-name positions per class.
"""
import hashlib
import json
import logging
import os
import warnings
from typing import Dict, Optional, Sequence, Tuple

import open_clip
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from mmseg.registry import MODELS

from ..utils import atomic_save, load_or_none, main_process_first
from .loader import FrozenCLIPModule
from .vocabularies import class_words, resolve_templates

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser('~'), '.cache', 'reclip_mmseg')


# Named OpenCLIPTextEncoder, not CLIPTextEncoder: that name is MMSeg's own (SAN's text encoder), and importing
# the plugin must never replace an upstream registry entry.
@MODELS.register_module()
class OpenCLIPTextEncoder(FrozenCLIPModule):
    """Frozen CLIP text tower.

    Args:
        clip: weight source, see :func:`reclip_mmseg.clip.load_clip`.
        templates: template set name ('reclip85' = 80 ImageNet + 5 scene templates) or a list of strings.
        cache_dir: where class embeddings are cached (None: ``$RECLIP_CACHE_DIR`` or ~/.cache/reclip_mmseg;
            False: no disk cache).
        batch_size: prompts per text forward when building ensembles.
        words: the words CLIP reads for each class name (:func:`reclip_mmseg.clip.vocabularies.class_words`):
            'readable' (dataset spellings made readable, 'pottedplant' -> 'potted plant'), 'release' (the ReCLIP
            releases' per-dataset lists: 'airplane', 'tv monitor', 'food things', ...; the ReCLIP family's
            configs), 'raw' (the dataset names as they are, as TagCLIP / ZegCLIP), or a dict {name: words}.
        use_prompt_names: the older switch; False means ``words='raw'``.
    """

    def __init__(self, clip: Optional[dict] = None, templates='reclip85', cache_dir=None, batch_size: int = 256,
                 words='readable', use_prompt_names: Optional[bool] = None, init_cfg=None):
        super().__init__(clip=clip, init_cfg=init_cfg)
        model = self.clip_model
        if getattr(model, 'text_pool_type', 'argmax') != 'argmax' or not hasattr(model, 'token_embedding'):
            raise ValueError(f"OpenCLIPTextEncoder needs a CLIP text tower pooled at the EOT token; "
                             f"'{self.clip_cfg['model_name']}' is not one")
        self.templates = resolve_templates(templates)
        if cache_dir is None:
            cache_dir = os.environ.get('RECLIP_CACHE_DIR', DEFAULT_CACHE_DIR)
        self.cache_dir = cache_dir or None
        self.batch_size = batch_size
        if use_prompt_names is not None:
            words = words if use_prompt_names else 'raw'
        class_words(('a', 'b'), words)  # an unknown choice fails here, at build
        self.words = words
        self.use_prompt_names = words != 'raw'
        self.tokenizer = open_clip.get_tokenizer(self.clip_cfg['model_name'])
        self.context_length = model.positional_embedding.shape[0]
        self.width = model.token_embedding.weight.shape[1]
        self._memory_cache: Dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------------------------------- basics
    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts)).to(self.clip_model.token_embedding.weight.device)

    def prompt_texts(self, class_names: Sequence[str]) -> Tuple[str, ...]:
        """The words each class name becomes inside the templates (``words``; distinct for distinct classes)."""
        return class_words(class_names, self.words)

    def prompt_text(self, name: str) -> str:
        """The words of one class name on its own ('release' lists are per vocabulary: use ``prompt_texts``)."""
        return self.prompt_texts((name, ))[0]

    @property
    def embed_dim(self) -> int:
        """D, the joint embedding width (the text projection's output)."""
        proj = self.clip_model.text_projection
        return proj.out_features if isinstance(proj, torch.nn.Linear) else proj.shape[-1]

    @property
    def tower_dtype(self) -> torch.dtype:
        """The dtype the text transformer computes in (float16 for ``clip.precision='fp16'``), open_clip's own
        ``Transformer.get_cast_dtype``."""
        return self.clip_model.transformer.get_cast_dtype()

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        proj = self.clip_model.text_projection
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj

    def _run_transformer(self, x: torch.Tensor, length: int) -> torch.Tensor:
        model = self.clip_model
        return model.transformer(x, attn_mask=model.attn_mask[:length, :length].to(x.dtype))

    @torch.no_grad()
    def encode_tokens(self, tokens: torch.Tensor, truncate: bool = True) -> torch.Tensor:
        """Unnormalised text features, equal to open_clip's ``encode_text``.

        With ``truncate`` only the positions up to the batch's last EOT are run (exact under causal attention).
        """
        model = self.clip_model
        eot = tokens.argmax(dim=-1)
        length = int(eot.max()) + 1 if truncate else tokens.shape[1]
        # cast to the tower's dtype before the sum, as OpenAI's encode_text (a no-op in float32)
        dtype = self.tower_dtype
        x = model.token_embedding(tokens[:, :length]).to(dtype) + model.positional_embedding[:length].to(dtype)
        x = model.ln_final(self._run_transformer(x, length))
        return self._project(x[torch.arange(x.shape[0], device=x.device), eot])

    # ----------------------------------------------------------------------------- Query ensembles
    def _cache_key(self, names: Sequence[str]) -> str:
        fields = dict(weights=self.weights_id, templates=list(self.templates), names=list(names), version=2)
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]

    def class_embeddings(self, class_names: Sequence[str], progress: bool = True) -> torch.Tensor:
        """(C, D) prompt-ensemble embeddings: per class, normalise each template's feature, average, normalise.

        Cached in memory and on disk, keyed by weights, templates and class names; written atomically by the
        main process first, so ranks never race and a second start is a file read.
        """
        names = list(self.prompt_texts(class_names))
        key = self._cache_key(names)
        device = self.clip_model.token_embedding.weight.device
        if key in self._memory_cache:
            return self._memory_cache[key].to(device)
        path = os.path.join(self.cache_dir, 'text_embeds', f'{key}.pth') if self.cache_dir else None
        with main_process_first():
            cached = load_or_none(path, what='Query-embedding cache') if path else None
            embeds = self._valid_cached_embeds(cached, names, path)
            if embeds is None:
                embeds = self._build_class_embeddings(names, progress).cpu()
                if path:
                    try:
                        atomic_save(dict(names=names, templates=list(self.templates), weights=self.weights_id,
                                         embeds=embeds, checksum=_tensor_checksum(embeds)), path)
                    except OSError as err:  # read-only or full disk: the embeddings are computed, go on
                        warnings.warn(f'Query-embedding cache {path} could not be written ({err}); going on '
                                      f'without the disk cache (set RECLIP_CACHE_DIR to a writable folder).')
        self._memory_cache[key] = embeds
        return embeds.to(device)

    def _valid_cached_embeds(self, cached, names, path) -> Optional[torch.Tensor]:
        """The cached (C, D) embeddings if the file is this cache's and intact: same names, finite, unit-norm
        rows of the text width, and the checksum stored beside them; otherwise None (with a warning when a file
        was there but damaged: it is rebuilt)."""
        if not isinstance(cached, dict):
            return None
        embeds = cached.get('embeds')
        dim = self.embed_dim
        problem = None
        if cached.get('names') != names:
            problem = 'it was written for other class names'
        elif not isinstance(embeds, torch.Tensor) or tuple(embeds.shape) != (len(names), dim):
            problem = f'its embeddings have shape {getattr(embeds, "shape", None)}, expected ({len(names)}, {dim})'
        elif not torch.isfinite(embeds).all():
            problem = 'its embeddings are not finite'
        elif cached.get('checksum') != _tensor_checksum(embeds):
            problem = 'its checksum does not match its data'
        elif not torch.allclose(embeds.norm(dim=-1), torch.ones(len(names)), atol=1e-3):
            problem = 'its embeddings are not unit-norm'
        if problem:
            warnings.warn(f'Query-embedding cache {path} is damaged ({problem}); rebuilding it.')
            return None
        return embeds

    def _build_class_embeddings(self, names: Sequence[str], progress: bool) -> torch.Tensor:
        prompts = [t.format(n) for n in names for t in self.templates]
        tokens = self.tokenize(prompts)
        # Batches of prompts of similar length: each batch runs only up to its own last EOT position, so
        # sorting by EOT position makes most batches shorter than the longest template.
        order = tokens.argmax(dim=-1).argsort(stable=True)
        chunks = range(0, len(prompts), self.batch_size)
        bar = ProgressBar(len(chunks)) if progress and len(chunks) > 1 else None
        if bar is not None:
            print_log(f'Building Query embeddings: {len(names)} classes x {len(self.templates)} templates',
                      logger='current', level=logging.INFO)
        feats = None
        for start in chunks:
            index = order[start:start + self.batch_size]
            batch = F.normalize(self.encode_tokens(tokens[index]), dim=-1).float()
            if feats is None:
                feats = batch.new_empty(len(prompts), batch.shape[-1])
            feats[index] = batch
            if bar is not None:
                bar.update()
        feats = feats.reshape(len(names), len(self.templates), -1)
        return F.normalize(feats.mean(dim=1), dim=-1)

    # ---------------------------------------------------------------------- learned-context prompts
    def context_prompt_tokens(self, class_names: Sequence[str], num_context: int,
                              context_token_id: int = 0) -> Tuple[torch.Tensor, torch.Tensor, list]:
        """Token ids of ``[SOS] ctx*M [name positions]`` (length 77) for each class.

        The name part is the tokenised name (its tokens, EOT, padding) cut to the ``77 - 1 - M`` positions left,
        as the release does; ctx positions carry ``context_token_id``. Returns (ids (C, 77), EOT index (C,),
        names whose EOT was cut off, which are then read at the highest-id position as in the release).
        """
        n_name = self.context_length - 1 - num_context
        if n_name < 1:
            raise ValueError(f'num_context={num_context} leaves no room for the class name in '
                             f'{self.context_length} positions')
        names = list(self.prompt_texts(class_names))
        full = self.tokenizer(names)  # (C, 77): SOS, name, EOT, 0...
        ids = torch.full((len(names), self.context_length), context_token_id, dtype=torch.long)
        ids[:, 0] = full[:, 0]
        ids[:, 1 + num_context:] = full[:, 1:1 + n_name]
        eot_id = int(full[0].max())
        truncated = [n for n, row in zip(names, ids) if not (row[1 + num_context:] == eot_id).any()]
        return ids, context_prompt_read_positions(ids, num_context), truncated

    def encode_with_context(self, context: torch.Tensor, token_ids: torch.Tensor, num_context: int,
                            shared_prefix: bool = True) -> torch.Tensor:
        """Features (C, D) of prompts ``[SOS] context [name positions]`` read at each prompt's EOT position.

        ``context`` (M, width) is the only input with gradient; the tower stays frozen. ``shared_prefix``
        computes the class-independent ``[SOS] + context`` positions once (exact, see module docstring).
        """
        model = self.clip_model
        if self.tower_dtype in (torch.float16, torch.bfloat16):
            raise ValueError(f"OpenCLIPTextEncoder: learned prompts (ReCLIP++'s Reference / bias prompts, TagCLIP) "
                             f"train through a float32 (or float64) text tower; this CLIP was built with clip.precision="
                             f"{self.clip_cfg.get('precision')!r} ({self.tower_dtype}). Drop clip.precision (or set "
                             f"'fp32') in the config's clip settings: half precision is for the training-free "
                             f"(inference) paths")
        token_ids = token_ids.to(context.device)
        eot = context_prompt_read_positions(token_ids, num_context)
        length = int(eot.max()) + 1
        emb = model.token_embedding(token_ids[:, :length])
        prefix_len = 1 + num_context
        pos = model.positional_embedding[:length]
        if not shared_prefix:
            C = token_ids.shape[0]
            x = torch.cat([emb[:, :1], context.unsqueeze(0).expand(C, -1, -1).to(emb.dtype), emb[:, prefix_len:]], 1)
            x = model.ln_final(self._run_transformer(x + pos, length))
            return self._project(x[torch.arange(C, device=x.device), eot])

        prefix = torch.cat([emb[:1, :1], context.unsqueeze(0).to(emb.dtype)], dim=1)[:, :length] + pos[:prefix_len]
        suffix = emb[:, prefix_len:] + pos[prefix_len:]
        for block in model.transformer.resblocks:
            prefix, suffix = _block_shared_prefix(block, prefix, suffix)
        C = token_ids.shape[0]
        x = torch.cat([prefix.expand(C, -1, -1), suffix], dim=1)
        x = model.ln_final(x[torch.arange(C, device=x.device), eot])
        return self._project(x)


def _tensor_checksum(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().cpu().contiguous().float().numpy().tobytes()).hexdigest()


def context_prompt_read_positions(token_ids: torch.Tensor, num_context: int) -> torch.Tensor:
    """(C,) where each ``[SOS] ctx*M [name positions]`` prompt is read: its EOT position, or, when the name's EOT
    was cut off, the highest-id position *among the name positions* (docs/reclip_pp.md §3). EOT has the largest id of the
    vocabulary, so both are the argmax over the name positions; an argmax over the whole row would pick SOS
    (id 49406 outranks every word) whenever EOT is missing."""
    return 1 + num_context + token_ids[:, 1 + num_context:].argmax(dim=-1)


def _block_shared_prefix(block, prefix: torch.Tensor, suffix: torch.Tensor):
    """One residual attention block on a shared prefix (1, P, W) and per-class suffixes (C, S, W).

    Causal attention: the prefix attends to itself; each suffix attends to the whole prefix and causally to
    itself. Numerically the same as running each class's full sequence through the block.
    """
    attn = block.attn
    heads = attn.num_heads
    W = prefix.shape[-1]

    def split(t):  # (N, L, W) -> (N, heads, L, W/heads)
        return t.unflatten(-1, (heads, W // heads)).transpose(1, 2)

    qp, kp, vp = map(split, F.linear(block.ln_1(prefix), attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1))
    out_p = F.scaled_dot_product_attention(qp, kp, vp, is_causal=True)
    prefix = prefix + block.ls_1(attn.out_proj(out_p.transpose(1, 2).flatten(2)))
    prefix = prefix + block.ls_2(block.mlp(block.ln_2(prefix)))
    S = suffix.shape[1]
    if S == 0:
        return prefix, suffix
    C, P = suffix.shape[0], kp.shape[2]
    qs, ks, vs = map(split, F.linear(block.ln_1(suffix), attn.in_proj_weight, attn.in_proj_bias).chunk(3, -1))
    keys = torch.cat([kp.expand(C, -1, -1, -1), ks], dim=2)
    values = torch.cat([vp.expand(C, -1, -1, -1), vs], dim=2)
    allowed = torch.ones(S, P + S, dtype=torch.bool, device=suffix.device)
    allowed[:, P:] = torch.ones(S, S, dtype=torch.bool, device=suffix.device).tril()
    out_s = F.scaled_dot_product_attention(qs, keys, values, attn_mask=allowed)
    suffix = suffix + block.ls_1(attn.out_proj(out_s.transpose(1, 2).flatten(2)))
    suffix = suffix + block.ls_2(block.mlp(block.ln_2(suffix)))
    return prefix, suffix
