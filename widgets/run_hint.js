// RunHint (widgets/_base.py): one grey line above a view drawn from saved widget state with no kernel behind it.
// The line replaces the red "disconnected" mark ipywidgets puts on every control of such a view.
export default { async render({ model, el }) {
  const me = await model.widget_manager.get_model(model.get("ref"));
  if (me.comm_live) return;
  if (!document.getElementById("minigpt-run-hint-style")) {
    const style = document.createElement("style");
    style.id = "minigpt-run-hint-style";
    style.textContent = ".minigpt-view .jupyter-widgets-disconnected::before { content: none; }";
    document.head.append(style);
  }
  el.className = "minigpt-run-hint";
  el.style.cssText = "color:#666;font-size:12px;padding:2px 0";
  el.textContent = "Saved view: run the cell to interact.";
}};

