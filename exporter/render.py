"""Fast exposition of the histogram cells, for large label spaces.

prometheus_client builds a Sample object per bucket and formats every label set again on
every scrape: about 1.6 s for 4,000 HTTP label sets, close to Prometheus' default 10 s scrape
timeout once a service has a few hundred routes. Here each label set is escaped once and
cached, and bucket lines are written straight from the cells. The output is the same text
(Prometheus 0.0.4 and OpenMetrics 1.0 agree on histogram lines), checked against
prometheus_client's own rendering by the tests.
"""

from __future__ import annotations

from prometheus_client.utils import floatToGoString

from exporter.metrics import HistogramCells, LabelValues


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


class HistogramText:
    """Renders one :class:`HistogramCells` with cached label strings."""

    def __init__(self, cells: HistogramCells) -> None:
        self.cells = cells
        self._labels: dict[LabelValues, str] = {}
        self._le = [floatToGoString(b) for b in cells.buckets] + ["+Inf"]  # type: ignore[no-untyped-call]

    def _label_text(self, labels: LabelValues) -> str:
        text = self._labels.get(labels)
        if text is None:
            names = self.cells.labelnames
            text = ",".join(f'{n}="{_escape_value(v)}"' for n, v in zip(names, labels, strict=True))
            self._labels[labels] = text
        return text

    def render(self, openmetrics: bool) -> str:
        name = self.cells.name
        out = [
            f"# HELP {name} {_escape_help(self.cells.documentation, openmetrics)}\n",
            f"# TYPE {name} histogram\n",
        ]
        append = out.append
        les = self._le
        for labels, cell in self.cells.snapshot():
            text = self._label_text(labels)
            sep = "," if text else ""
            bucket = f'{name}_bucket{{{text}{sep}le="'
            running = 0
            for i, le in enumerate(les):
                running += int(cell[i])
                append(f'{bucket}{le}"}} {running}\n')
            braces = f"{{{text}}}" if text else ""
            append(f"{name}_count{braces} {running}\n")
            append(f"{name}_sum{braces} {floatToGoString(cell[-1])}\n")  # type: ignore[no-untyped-call]
        return "".join(out)
