"""Markdown table of parameters and MACs of every GhostNet-family classifier and width.

    python tools/analysis_tools/complexity_table.py [--families ghostnet repghostnet ...]

Classifier = backbone + global average pooling + the reference head (1280-wide hidden layer,
ReLU, dropout 0.2; 1000 classes, 10 for GhostNetV3-Small). MACs are mmengine FlopAnalyzer's
conv + linear counts (the papers' "FLOPs") at 224x224 (32x32 for GhostNetV3-Small), in the
training form and after ``switch_to_deploy`` (:func:`mmghost.analysis.family_complexity`).
"""
import argparse


def main():
    from mmghost.families import FAMILIES
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--families', nargs='+', default=list(FAMILIES),
                        help='family keys or backbone names (default: all)')
    args = parser.parse_args()
    from mmghost.analysis import family_complexity
    print('| model | width | params (train) | params (deploy) | MACs (train) | MACs (deploy) |')
    print('|---|---|---|---|---|---|')
    for r in family_complexity(args.families):
        deployed = r['params_deploy'] is not None
        print(f'| {r["family"]} | {r["width"]} | {r["params_train"]:,} | '
              f'{format(r["params_deploy"], ",") if deployed else "="} | '
              f'{r["macs_train"] / 1e6:.1f}M | '
              f'{format(r["macs_deploy"] / 1e6, ".1f") + "M" if deployed else "="} |',
              flush=True)


if __name__ == '__main__':
    main()
