"""Plot the space-preference curve (mean IoU vs distance of the object from the image centre) of one or more
BiasMetric curve files (``dict(type='BiasMetric', curve_file=...)`` in the test evaluator).

    python tools/plot_space_bias.py maskclip.json rectified.json --labels MaskCLIP ReCLIP++ --out space_bias.png
"""
import argparse
import json

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('curves', nargs='+')
    parser.add_argument('--labels', nargs='+')
    parser.add_argument('--out', default='space_bias.png')
    args = parser.parse_args()
    labels = args.labels or args.curves
    if len(labels) != len(args.curves):
        raise SystemExit(f'{len(args.curves)} curve files but {len(labels)} labels')
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for path, label in zip(args.curves, labels):
        curve = json.load(open(path))
        # the slope in the axis's unit (mIoU points per unit of distance), and each bin's object count
        line, = ax.plot(curve['bin_centres'], [100 * v for v in curve['mean_iou']], marker='o',
                        label=f'{label} (slope {100 * curve["slope"]:.1f} %/unit)')
        for x, y, n in zip(curve['bin_centres'], curve['mean_iou'], curve.get('counts', [])):
            ax.annotate(f'n={n}', (x, 100 * y), textcoords='offset points', xytext=(0, 6), ha='center',
                        fontsize=7, color=line.get_color())
    ax.set_xlabel('distance of the object centroid from the image centre\n(0 = centre, 1 = corner)')
    ax.set_ylabel('mIoU (%)')
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    for text in ax.get_legend().get_texts():
        print(text.get_text())
    print('objects per bin:', '; '.join(t.get_text() for t in ax.texts))
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
