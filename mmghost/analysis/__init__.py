"""Analysis: parameter and MAC counts, side-by-side timing, the latency benchmark runner (in
parts: specs, building, calls, top-1, the run loop), and its reports and plots.

Names are imported on first use, so ``mmghost.analysis.exported_timing`` runs without torch.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'complexity': ('count_complexity', 'part_complexity', 'model_complexity',
                   'config_complexity', 'family_complexity'),
    'timing': ('time_interleaved', 'percentile', 'summarize'),
    'exported_timing': ('time_exported_in_subprocess', ),
    'spec': ('BenchmarkError', 'Unsupported', 'parse_spec', 'model_label'),
    'build': ('build_model', 'to_deploy', 'to_inference', 'resolve_device'),
    'top1': ('family_top1', 'arch_name', 'zoo_top1', 'lookup_top1'),
    'benchmark': ('build_variants', 'time_variants', 'run_benchmark'),
    'reporting': ('markdown_table', 'report', 'ok_rows', 'GOAL_HEADER', 'verdict', 'goal_line',
                  'emit', 'write_json', 'plot'),
})
