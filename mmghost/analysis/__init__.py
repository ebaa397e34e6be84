"""Analysis: parameter and MAC counts, side-by-side timing, the latency benchmark runner, and
its reports and plots.

Names are imported on first use, so ``mmghost.analysis.exported_timing`` runs without torch.
"""
from mmghost._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    'complexity': ('count_complexity', 'config_complexity', 'family_complexity'),
    'timing': ('time_interleaved', 'percentile', 'summarize'),
    'exported_timing': ('time_exported_in_subprocess', ),
    'benchmark': ('BenchmarkError', 'Unsupported', 'PEER_TOP1', 'top1_table', 'lookup_top1',
                  'parse_spec', 'model_label', 'build_model', 'to_deploy', 'build_variants',
                  'time_variants', 'run_benchmark', 'resolve_device'),
    'reporting': ('markdown_table', 'report', 'write_json', 'plot'),
})
