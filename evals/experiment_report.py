"""An experiment's results as a self-contained HTML page, in the eval report's style
(same plot helpers: inline SVG from matplotlib, no external assets)."""

from __future__ import annotations

from gateway.schemas.experiments import ResultsOut


def render_report(results: ResultsOut) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from evals import plots

    r = results.model_dump(mode="json")
    names = list(r["exposures"])
    primary = r["metrics"][0]
    env = Environment(loader=PackageLoader("evals", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("experiment.html.j2").render(
        r=r, names=names, primary=primary,
        timeline=plots.rate_timeline(r["timeline"], names, primary["name"]),
        lifts=plots.lift_intervals(primary["vs_control"], primary["name"]))
