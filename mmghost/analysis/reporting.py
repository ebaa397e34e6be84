"""Presenting benchmark rows: markdown tables, goal ratios, JSON, and latency plots."""
import json
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['markdown_table', 'report', 'ok_rows', 'GOAL_HEADER', 'verdict', 'goal_line',
           'emit', 'write_json', 'plot']

#: The header of a goal table built from :func:`goal_line` rows.
GOAL_HEADER = ['| ratio | of medians | of p10s | goal (medians) | |', '|---|---|---|---|---|']


def ok_rows(rows: Sequence[dict], batch: int) -> Dict[Tuple[str, str], dict]:
    """``{(model, form): row}`` of the rows of ``batch`` that ran."""
    return {(r['model'], r['form']): r for r in rows
            if r['batch'] == batch and r['status'] == 'ok'}


def verdict(of_medians: float, of_p10s: float, bound: float) -> str:
    """``'met'`` when the ratios of medians and of 10th percentiles both meet ``bound``,
    ``'NOT met'`` when neither does, ``'noise'`` when they disagree (a median alone, on a
    noisy machine, once said "met" for 1.15x)."""
    met = (of_medians <= bound, of_p10s <= bound)
    return 'met' if all(met) else 'NOT met' if not any(met) else 'noise'


def goal_line(what: str, num: Optional[dict], den: Optional[dict], bound: float,
              missing: bool = False, by_p10s_too: bool = True) -> Optional[str]:
    """``| what | ratio of medians | of p10s | <= bound | verdict |`` of ``num`` over ``den``
    (rows, or ``{'median_ms', 'p10_ms'}`` of a reference such as the FLOP floor); a row
    saying "not measured" (``missing``) or None when either is absent. The verdict is
    :func:`verdict`'s, or the medians' alone without ``by_p10s_too``."""
    if num is None or den is None:
        return f'| {what} | – | – | <= {bound:.2f} | not measured |' if missing else None
    r, r10 = num['median_ms'] / den['median_ms'], num['p10_ms'] / den['p10_ms']
    v = verdict(r, r10 if by_p10s_too else r, bound)
    return f'| {what} | {r:.2f} | {r10:.2f} | <= {bound:.2f} | {v} |'


def emit(text: str, out_md: Optional[str] = None) -> None:
    """Print a benchmark's report and, with ``out_md``, also write it there (atomically)."""
    print(text)
    if out_md:
        from mmghost.checkpoint.atomic import atomic_write
        atomic_write(out_md, text.encode())


def _count(n: Optional[int]) -> str:
    if n is None:
        return '–'
    return f'{n / 1e9:.2f}G' if n >= 1e9 else f'{n / 1e6:.2f}M' if n >= 1e7 else \
        f'{n / 1e6:.3f}M' if n >= 1e5 else f'{n / 1e3:.1f}K' if n >= 1e4 else str(n)


def _ms(t: float) -> str:
    return f'{t:.0f}' if t >= 100 else f'{t:.1f}' if t >= 1 else f'{t:.3f}'


def markdown_table(rows: Sequence[dict]) -> str:
    """The rows of one part and batch size as a markdown table (with the FLOP floor's ratio
    when it was measured)."""
    floor = any(r.get('floor_ratio') for r in rows)
    lines = ['| model | form | dtype | batch | params | MACs | median ms | p10-p90 ms | '
             'ratio to first |' + (' x FLOP floor |' if floor else ''),
             '|---|---|---|---|---|---|---|---|---|' + ('---|' if floor else '')]
    for r in rows:
        form = r['form']
        if r.get('provider') and r['device'] != 'cpu':  # say where ORT ran on a GPU machine
            form += f' ({r["provider"].replace("ExecutionProvider", "")})'
        head = (f'| {r["model"]} | {form} | {r["dtype"]} | {r["batch"]} | '
                f'{_count(r["params"])} | {_count(r["macs"])} | ')
        if r['status'] != 'ok':
            reason = r['reason'].replace('|', '\\|')
            lines.append(head + f'unsupported: {reason} | – | – |' + (' – |' if floor else ''))
        else:
            tail = f' {r["floor_ratio"]:.2f} |' if r.get('floor_ratio') else ' – |'
            lines.append(head + f'{_ms(r["median_ms"])} | {_ms(r["p10_ms"])}-'
                         f'{_ms(r["p90_ms"])} | {r["ratio"]:.2f} |' + (tail if floor else ''))
    gflops = next((r['matmul_gflops'] for r in rows if r.get('matmul_gflops')), None)
    if gflops:
        lines.append(f'\nFLOP floor: 2 x MACs at the rate of a 2048^2 fp32 matmul timed in the '
                     f'same run, {gflops:.0f} GFLOP/s.')
    return '\n'.join(lines)


def _groups(rows: Sequence[dict]) -> Dict[Tuple[str, int], List[dict]]:
    groups: Dict[Tuple[str, int], List[dict]] = {}
    for r in rows:
        groups.setdefault((r['part'], r['batch']), []).append(r)
    return groups


def report(rows: Sequence[dict], header: str = '') -> str:
    """Header, one ``<part> latency, batch N`` table per part and batch size, and the top-1
    numbers used for the plot with their sources."""
    out = [header] if header else []
    for (part, batch), group in _groups(rows).items():
        out.append(f'\n{part} latency, batch {batch}')
        out.append(markdown_table(group))
    known = {}
    for r in rows:
        if r['top1'] is not None:
            known.setdefault(r['model'], (r['top1'], r['top1_source']))
    if known:
        out.append('\nImageNet top-1 (%) used for the plot:')
        out.extend(f'- {k}: {v:g} ({src})' for k, (v, src) in known.items())
    return '\n'.join(out) + '\n'


def write_json(rows: Sequence[dict], path: str, meta: Optional[dict] = None) -> None:
    from mmghost.checkpoint.atomic import atomic_write
    atomic_write(path, json.dumps(dict(meta=meta or {}, rows=list(rows)), indent=1).encode())


def plot(rows: Sequence[dict], path: str, title: str = '') -> None:
    """Median latency against params, MACs and ImageNet top-1 (three subplots, labelled
    points; one marker per batch size and dtype). The ``model`` part is plotted when timed,
    else the backbone; rows without a top-1 are left out of the third subplot."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError('plots need matplotlib: pip install matplotlib (or pip install '
                          '"mmghost[plot]")') from e
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r['status'] == 'ok']
    part = 'model' if any(r['part'] == 'model' for r in ok) else 'backbone'
    ok = [r for r in ok if r['part'] == part]
    series = list(dict.fromkeys((r['batch'], r['dtype']) for r in
                                sorted(ok, key=lambda r: r['batch'])))
    markers = 'os^Dv<>pPX*h'
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    panels = [('params', 'parameters (M)', 1e-6), ('macs', 'MACs per image (M)', 1e-6),
              ('top1', 'ImageNet top-1 (%)', 1.0)]
    for ax, (key, xlabel, scale) in zip(axes, panels):
        drawn = 0
        for i, (batch, dtype) in enumerate(series):
            pts = [r for r in ok if r['batch'] == batch and r['dtype'] == dtype
                   and r[key] is not None]
            if not pts:
                continue
            xs = [r[key] * scale for r in pts]
            ys = [r['median_ms'] for r in pts]
            ax.scatter(xs, ys, marker=markers[i % len(markers)], label=f'batch {batch}, {dtype}')
            drawn += len(pts)
        labelled = {}  # each model form once, at its fastest point
        for r in ok:
            if r[key] is not None:
                name = f'{r["model"]} ({r["form"]})'
                if name not in labelled or r['median_ms'] < labelled[name][1]:
                    labelled[name] = (r[key] * scale, r['median_ms'])
        for name, xy in labelled.items():
            ax.annotate(name, xy, xytext=(3, 3), textcoords='offset points', fontsize=7)
        if not drawn:
            ax.text(0.5, 0.5, f'no model with a known {xlabel}', ha='center', va='center',
                    transform=ax.transAxes)
        ys = [r['median_ms'] for r in ok if r[key] is not None]
        if ys and min(ys) > 0 and max(ys) / min(ys) > 20:
            ax.set_yscale('log')
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f'{part} median latency (ms)')
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
    fig.suptitle(title or f'{part} latency')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
