// Small helpers to build DOM nodes without parsing strings as markup:
// every piece of data from the API goes into the page as text.

// h makes an element. attrs: "class", "text", "on<event>" (a function,
// added with addEventListener), booleans (set when true, left out when
// false), "dataset" (an object) and any other attribute as a string.
// Children are nodes, strings (as text), or null/undefined/false (skipped);
// arrays are flattened.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") {
      el.className = value;
    } else if (key === "text") {
      el.textContent = String(value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// setText sets an element's text only when it changed, so that a refresh
// that changes nothing touches nothing (no flicker, selection kept).
export function setText(el, text) {
  const s = text === undefined || text === null ? "" : String(text);
  if (el.textContent !== s) el.textContent = s;
}

// setClass replaces the classes of el that start with prefix by prefix+value.
export function setClass(el, prefix, value) {
  for (const c of [...el.classList]) {
    if (c.startsWith(prefix) && c !== prefix + value) el.classList.remove(c);
  }
  if (value) el.classList.add(prefix + value);
}

// clear removes every child of el.
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

// focusable lists the elements inside root that Tab can reach.
export function focusable(root) {
  const sel = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  return [...root.querySelectorAll(sel)].filter((el) => !el.closest("[hidden]") && el.getClientRects().length > 0);
}

// saveFile has the browser save blob as filename. The file may hold a
// private key: the page's copy is dropped once the save has begun.
export function saveFile(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
