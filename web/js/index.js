// Tower Sentinel's frontend entry: the only module that registers anything with ComfyUI (the extension, its
// settings and the "Tower" sidebar tab). Everything else lives in store.js (state, polling, websocket) and
// panel.js (DOM).
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { towerApi } from "./api.js";
import { TowerPanel } from "./panel.js";
import { TowerStore, WINDOWS } from "./store.js";
import { patternsView } from "./shapes.js";

const CSS_ID = "tower-sentinel-css";

function setting(id) {
  try {
    const mgr = app.extensionManager?.setting;
    if (mgr?.get) return mgr.get(id);
    return app.ui?.settings?.getSettingValue(id);
  } catch {
    return undefined;
  }
}

function loadCss() {
  if (document.getElementById(CSS_ID)) return;
  const link = document.createElement("link");
  link.id = CSS_ID;
  link.rel = "stylesheet";
  link.href = new URL("../css/tower.css", import.meta.url).href;
  document.head.append(link);
}

/** The suggested action for a failed prompt: its error's fingerprint matched against the failure patterns. */
async function describeFailure(detail) {
  let fingerprint = null;
  let message = null;
  try {
    const gen = await towerApi.generation(detail.prompt_id);
    fingerprint = gen?.error?.fingerprint || null;
    message = gen?.error?.message || null;
  } catch {
    // the toast still names the category without the details
  }
  let action = null;
  try {
    const patterns = patternsView(await towerApi.failureAnalysis({ window: "24h" }));
    const match = patterns.find((p) => fingerprint && p.id === fingerprint)
      || patterns.find((p) => p.category === detail.category && p.nodeClass === detail.failing_node_class);
    action = match?.suggestedAction || null;
  } catch {
    // failure analysis unavailable: no suggestion
  }
  return { message, action };
}

async function toastFailure(detail) {
  const { message, action } = await describeFailure(detail);
  const node = detail.failing_node_id ? ` in node #${detail.failing_node_id}${detail.failing_node_class ? ` ${detail.failing_node_class}` : ""}` : "";
  const lines = [`Category: ${detail.category || "unknown"}${node}.`];
  if (message) lines.push(message);
  lines.push(action ? `Suggested action: ${action}` : "Suggested action: open the Tower panel for this failure's pattern.");
  app.extensionManager?.toast?.add({
    severity: "error",
    summary: "Tower: prompt failed",
    detail: lines.join("\n"),
    life: 10000,
  });
}

const store = new TowerStore({ setting });
let panel = null;

app.registerExtension({
  name: "tower.sentinel",
  settings: [
    {
      id: "Tower.RefreshSeconds",
      category: ["Tower", "Panel", "RefreshSeconds"],
      name: "Refresh interval of the Tower panel (seconds)",
      tooltip: "How often the open panel polls the server. Websocket events refresh it sooner, at most every 3 s.",
      type: "slider",
      attrs: { min: 5, max: 300, step: 5 },
      defaultValue: 15,
    },
    {
      id: "Tower.DefaultWindow",
      category: ["Tower", "Panel", "DefaultWindow"],
      name: "Default time window of the Tower panel",
      type: "combo",
      options: WINDOWS,
      defaultValue: "24h",
      onChange: (value) => {
        if (WINDOWS.includes(value)) store.setWindow(value);
      },
    },
    {
      id: "Tower.Toasts",
      category: ["Tower", "Notifications", "Toasts"],
      name: "Show a toast when a prompt from this browser fails",
      type: "boolean",
      defaultValue: true,
    },
  ],
  setup() {
    loadCss();
    store.attach(api);
    store.addEventListener("outcome", (ev) => {
      const d = ev.detail;
      if (d.status !== "error" || setting("Tower.Toasts") === false) return;
      if (!d.client_id || d.client_id !== api.clientId) return;
      toastFailure(d).catch((exc) => console.warn("tower: toast failed", exc));
    });
    app.extensionManager.registerSidebarTab({
      id: "tower-sentinel",
      icon: "pi pi-shield",
      title: "Tower",
      tooltip: "Tower Sentinel",
      type: "custom",
      render(el) {
        panel?.unmount();
        panel = new TowerPanel(store);
        panel.mount(el);
        store.open();
      },
      destroy() {
        store.close();
        panel?.unmount();
        panel = null;
      },
    });
  },
});
