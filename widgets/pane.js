// The live plotly pane (widgets/_plotly.py: PlotlyPane). anywidget loads this file as the pane's ES module.
//
// Unpack the base64 gzip'd plotly.js with the browser's DecompressionStream and run it with
// `define`/`module`/`exports` shadowed, so that a RequireJS on the page cannot capture it: it always
// lands on window.Plotly.
async function unpackPlotly(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const source = await new Response(stream).text();
  new Function("define", "module", "exports", source).call(globalThis);
  return globalThis.Plotly;
}

async function loadPlotly(model) {
  if (globalThis.Plotly) return globalThis.Plotly;
  if (!globalThis.__minigptPlotly) {
    globalThis.__minigptPlotly = (async () => {
      const id = model.get("lib").replace("IPY_MODEL_", "");
      const lib = await model.widget_manager.get_model(id);
      return unpackPlotly(lib.get("source"));
    })();
  }
  return globalThis.__minigptPlotly;
}

async function render({ model, el, signal }) {
  // The pane's element goes in before the first await: a view disposed while plotly.js loads
  // (anywidget may re-render a view) must never leave a half-made plot behind in the page.
  const div = document.createElement("div");
  div.className = "minigpt-pane";
  div.style.width = "100%";
  div.style.minHeight = (JSON.parse(model.get("figure")).layout?.height ?? 450) + "px";
  el.replaceChildren(div);  // a re-rendered view starts from an empty element
  const Plotly = await loadPlotly(model);
  if (signal?.aborted) { div.remove(); return; }
  let clicks = 0;
  const draw = () => {
    const fig = JSON.parse(model.get("figure"));
    if (!fig.data) return;  // no figure yet ("{}"): plotly would draw empty axes; change:figure draws
    // export: the camera icon saves a PNG; the extra button saves an SVG of the current view
    const config = { responsive: true, displaylogo: false,
      toImageButtonOptions: { format: "png", scale: 2 },
      modeBarButtonsToAdd: [{ name: "Download as SVG", icon: Plotly.Icons.disk,
        click: (gd) => Plotly.downloadImage(gd, { format: "svg", filename: "minigpt-view" }) }] };
    const target = div;
    return Plotly.react(target, fig.data, fig.layout, config).then(() => {
      if (!target.__minigptClick) {
        target.__minigptClick = true;
        target.on("plotly_click", (ev) => {
          const p = ev.points[0];
          model.set("click", { x: p.x, y: p.y, curve: p.curveNumber,
            point: p.pointNumber ?? p.pointNumbers ?? null,
            trace: p.data.name ?? null, n: ++clicks });
          model.save_changes();
        });
      }
    });
  };
  // Draw only once the pane is on screen. JupyterLab lays out off-screen cells lazily, and a
  // plotly figure with axis constraints (scaleanchor) started at zero size never finishes.
  let shown = false;
  const onChange = () => { if (shown) draw(); };
  model.on("change:figure", onChange);
  const observer = new IntersectionObserver((entries) => {
    if (!shown && entries.some((e) => e.isIntersecting)) {
      shown = true;
      observer.disconnect();
      draw();
    }
  }, { rootMargin: "400px" });
  observer.observe(div);
  return () => { observer.disconnect(); model.off("change:figure", onChange); Plotly.purge(div); div.remove(); };
}
export default { render };
