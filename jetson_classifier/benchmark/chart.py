"""Draw a profile's speed/accuracy chart: where each model sits and how well the fits hold."""

import datetime
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
import numpy as np

from jetson_classifier.benchmark.profile_schema import group_of_model, paced_entries
from jetson_classifier.errors import ClassifierError

FORMATS = ('.png', '.svg')
_MAX_MARKER_AREA = 700.0
_MIN_MARKER_AREA = 40.0
_LOG_FPS_RATIO = 10.0
_LABEL_BOX = {'boxstyle': 'round,pad=0.15', 'facecolor': 'white', 'edgecolor': 'none',
              'alpha': 0.8}


def draw_chart(profile, path):
    """Write the two-panel chart of a validated profile to a .png or .svg file."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise ClassifierError(f'chart {path}: extension {ext!r} is not one of {FORMATS}')
    fig = Figure(figsize=(14, 6.4), layout='constrained')
    FigureCanvasAgg(fig)
    colours = _group_colours(profile['models'])
    accuracy_ax, latency_ax = fig.subplots(1, 2)
    _draw_accuracy_panel(accuracy_ax, profile, colours)
    _draw_latency_panel(latency_ax, profile, colours)
    fig.suptitle(f'Speed vs accuracy on {_target_name(profile["machine"])}', fontsize=14)
    fig.supxlabel(_caption(profile), fontsize=8.5, color='0.3')
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=130, format=ext[1:])
    except OSError as e:
        raise ClassifierError(f'cannot write chart {path}: {e.strerror or e}') from e


def _group_colours(models):
    """Give every (backend, device, precision) group a colour and a short legend name."""
    groups = list(dict.fromkeys(group_of_model(m) for m in models))
    varying = [i for i in range(3) if len({g[i] for g in groups}) > 1] or [2]
    palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf']
    return {g: (palette[i % len(palette)], ' '.join(g[j] for j in varying))
            for i, g in enumerate(groups)}


def _marker_areas(models):
    """Marker areas proportional to MACs (largest model biggest); MAC-less models get the least."""
    macs = np.array([m['macs'] or 0.0 for m in models], dtype=np.float64)
    top = macs.max() if macs.size and macs.max() > 0 else 1.0
    return np.maximum(_MAX_MARKER_AREA * macs / top, _MIN_MARKER_AREA)


def _draw_accuracy_panel(ax, profile, colours):
    models = [m for m in profile['models'] if m['top1'] is not None]
    pareto = set(profile['pareto'])
    areas = _marker_areas(models)
    for m, area in zip(models, areas):
        colour, _ = colours[group_of_model(m)]
        filled = m['name'] in pareto
        ax.scatter(m['fps'], 100 * m['top1'], s=area, edgecolors=colour, linewidths=1.6,
                   facecolors=colour if filled else 'white', zorder=3)
        ax.annotate(m['name'], (m['fps'], 100 * m['top1']), xytext=(4 + np.sqrt(area) / 2, 0),
                    textcoords='offset points', va='center', fontsize=8.5, zorder=4,
                    bbox=_LABEL_BOX)
        for entry in paced_entries(m):
            paced_fps = 1000.0 / entry['latency_ms']['p50']
            ax.plot([m['fps'], paced_fps], [100 * m['top1']] * 2, color=colour, linewidth=0.8,
                    alpha=0.6, zorder=2)
            ax.scatter(paced_fps, 100 * m['top1'], marker='x', s=45, color=colour, zorder=3)
    front = sorted((m for m in models if m['name'] in pareto), key=lambda m: m['fps'])
    if front:
        ax.plot([m['fps'] for m in front], [100 * m['top1'] for m in front], color='0.2',
                linewidth=1.2, zorder=2, label='Pareto front (filled markers)')
    by_name = {m['name']: m for m in models}
    for fit in profile['fits']['accuracy_vs_latency']:
        colour, group = colours[group_of_model(by_name[fit['models'][0]])]
        fps = np.array([by_name[n]['fps'] for n in fit['models']])
        grid = np.linspace(fps.min() * 0.9, fps.max() * 1.1, 100)
        ax.plot(grid, 100 * (fit['a'] - fit['b'] * grid / 1000.0), color=colour,
                linestyle='--', linewidth=1, zorder=1,
                label=f'{group} fit: top-1 % = {100 * fit["a"]:.1f} - {100 * fit["b"]:.1f} / '
                      f'latency ms, R² {_r2_text(fit["r2"])}')
    for key in dict.fromkeys(group_of_model(m) for m in models):
        colour, group = colours[key]
        ax.scatter([], [], color=colour, s=60, label=group)
    rates = _paced_rates(models)
    if rates:
        ax.scatter([], [], marker='x', color='0.3', s=45,
                   label=f'paced at {rates} Hz, as the node runs it')
    fps = [m['fps'] for m in models]
    if fps and max(fps) >= _LOG_FPS_RATIO * min(fps):
        ax.set_xscale('log')
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel('network fps (1000 / p50 latency; back-to-back, and x: paced)')
    ax.set_ylabel('top-1 accuracy (%)')
    ax.set_title(f'Accuracy vs speed on {profile["dataset"]["images"]} images '
                 '(marker area ∝ MACs)', fontsize=11)
    ax.margins(x=0.12, y=0.18)
    ax.grid(True, color='0.9')
    ax.legend(fontsize=8, loc='upper right')  # fast and accurate: the corner no model reaches


def _draw_latency_panel(ax, profile, colours):
    models = [m for m in profile['models'] if m['macs'] is not None]
    for m in models:
        colour, _ = colours[group_of_model(m)]
        p50 = m['latency_ms']['p50']
        ax.errorbar(m['macs'] / 1e9, p50, yerr=[[0], [m['latency_ms']['p99'] - p50]],
                    fmt='o', color=colour, capsize=3, markersize=6, zorder=3)
        ax.annotate(m['name'], (m['macs'] / 1e9, p50), xytext=(6, -10),
                    textcoords='offset points', fontsize=8.5, bbox=_LABEL_BOX)
        for entry in paced_entries(m):
            ax.scatter(m['macs'] / 1e9, entry['latency_ms']['p50'], marker='x', s=45,
                       color=colour, zorder=3)
    by_name = {m['name']: m for m in models}
    for fit in profile['fits']['latency_vs_gmacs']:
        colour, group = colours[group_of_model(by_name[fit['models'][0]])]
        gmacs = np.array([by_name[n]['macs'] / 1e9 for n in fit['models']])
        grid = np.linspace(0, gmacs.max() * 1.1, 50)
        ax.plot(grid, fit['slope'] * grid + fit['intercept'], color=colour, linewidth=1,
                linestyle='--', zorder=1,
                label=f'{group} fit: {fit["slope"]:.2f} ms/GMAC {fit["intercept"]:+.2f} ms, '
                      f'R² {_r2_text(fit["r2"])}')
    ax.errorbar([], [], yerr=[], fmt='o', color='0.4', capsize=3,
                label='back-to-back p50, bar to p99')
    if _paced_rates(models):
        ax.scatter([], [], marker='x', color='0.4', s=45,
                   label=f'paced p50 at {_paced_rates(models)} Hz')
    ax.set_xlabel('GMACs per image')
    ax.set_ylabel('latency per frame (ms)')
    ax.set_title('Does operation count predict latency?', fontsize=11)
    if models:
        ax.set_xlim(0, 1.15 * max(m['macs'] for m in models) / 1e9)
        ax.set_ylim(0, 1.1 * max(max([m['latency_ms']['p99'], *(e['latency_ms']['p50']
                                                                for e in paced_entries(m))])
                                 for m in models))
    ax.grid(True, color='0.9')
    ax.legend(fontsize=8, loc='upper left')


def _paced_rates(models):
    """Name the rates the models were paced at: '30', '15, 30' or '' for none."""
    return ', '.join(f'{rate:g}' for rate in sorted({e['rate_hz'] for m in models
                                                     for e in paced_entries(m)}))


def _r2_text(r2):
    return 'undefined' if r2 is None else f'= {r2:.3f}'


def _target_name(machine):
    return machine.get('board') or machine.get('gpu') or machine.get('cpu') or 'unknown machine'


def _caption(profile):
    """Name the machine, threads and library versions, then the date and data, in two lines."""
    machine = profile['machine']
    created = datetime.datetime.fromisoformat(profile['created'])
    int8 = ', '.join(machine.get('cpu_int8_instructions') or ())
    parts = [f'CPU {machine.get("cpu", "?")} ({machine.get("cpu_count", "?")} cores'
             f'{", " + int8 if int8 else ""})',
             *_cpu_threads(profile.get('benchmark') or {}),
             f'GPU {machine.get("gpu") or "none"}',
             f'onnxruntime {machine.get("onnxruntime") or "absent"}',
             f'TensorRT {machine.get("tensorrt") or "absent"}',
             f'Python {machine.get("python", "?")}',
             f'measured {created:%Y-%m-%d %H:%M %Z}'.strip(),
             f'dataset {profile["dataset"]["path"]}']
    return '  ·  '.join(parts[:-2]) + '\n' + '  ·  '.join(parts[-2:])  # machine, then data


def _cpu_threads(settings):
    """Return ['N threads, idle ones spin|sleep'] as the benchmark ran them; [] if unrecorded."""
    if 'threads' not in settings:
        return []
    spin = settings.get('spin_wait')
    return [f'{settings["threads"]} threads' + (
        '' if spin is None else ', idle ones spin' if spin else ', idle ones sleep')]
