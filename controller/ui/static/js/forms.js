// Forms built from a list of field descriptions, with a message slot next
// to every field for the API's validation errors (400 with data.field).

import { h } from "./dom.js";
import { openModal } from "./modal.js";
import { t } from "./i18n.js";
import { showMessage } from "./detail.js";

let serial = 0; // unique ids per form; only ever increases

// A field is {name, label, type, value, placeholder, help, required,
// options, autocomplete, list, step}. type is "text" (default), "password",
// "url", "number" (whole numbers unless step says otherwise, e.g. "any"),
// "datetime-local", "checkbox", "select" (options: [{value, label}]). name
// is the JSON field of the API the input stands for. list: the value is an
// array, written comma-separated.
export function buildForm({ fields, submitLabel, extra = [] }) {
  const id = ++serial;
  const rows = new Map(); // name -> {input, error, spec}
  const formError = h("div", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, submitLabel);
  const cancel = h("button", { type: "button", class: "btn", dataset: { action: "cancel" } }, t("modal.cancel"));

  const fieldNodes = fields.map((spec) => {
    const inputId = `f${id}-${spec.name}`;
    const errorId = `${inputId}-error`;
    const helpId = `${inputId}-help`;
    const input = makeInput(spec, inputId);
    const describedBy = [spec.help ? helpId : null, errorId].filter(Boolean).join(" ");
    input.setAttribute("aria-describedby", describedBy);
    const error = h("p", { class: "field-error", id: errorId, hidden: true });
    rows.set(spec.name, { input, error, spec });
    const help = spec.help ? h("p", { class: "help", id: helpId }, spec.help) : null;
    if (spec.type === "checkbox") {
      return h("div", { class: "field field-check", dataset: { field: spec.name } },
        h("div", { class: "check" }, input, h("label", { for: inputId }, spec.label)), help, error);
    }
    return h("div", { class: "field", dataset: { field: spec.name } },
      h("label", { for: inputId }, spec.label, spec.required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null),
      input, help, error);
  });

  const form = h("form", { class: "form", novalidate: true },
    formError,
    h("div", { class: "fields" }, fieldNodes),
    h("div", { class: "form-actions" }, extra, cancel, submit));

  const api = {
    form,
    submit,
    cancel,
    input: (name) => rows.get(name)?.input,
    has: (name) => rows.has(name),
    // values returns the form's values by field name: strings trimmed,
    // numbers as numbers (undefined when empty), checkboxes as booleans,
    // lists as arrays.
    values() {
      const out = {};
      for (const [name, { input, spec }] of rows) out[name] = readInput(input, spec);
      return out;
    },
    setError(name, message) {
      const row = rows.get(name);
      if (!row) return false;
      row.error.textContent = message;
      row.error.hidden = false;
      row.input.setAttribute("aria-invalid", "true");
      row.input.closest(".field").classList.add("invalid");
      return true;
    },
    // setFormError shows message above the fields, with its detail (the
    // API's) behind a disclosure; "" hides it.
    setFormError(message, detail = "") {
      showMessage(formError, message, detail);
      formError.hidden = !message;
    },
    clearErrors() {
      api.setFormError("");
      for (const { input, error } of rows.values()) {
        error.textContent = "";
        error.hidden = true;
        input.removeAttribute("aria-invalid");
        input.closest(".field").classList.remove("invalid");
      }
    },
    setBusy(busy) {
      submit.disabled = busy;
      form.classList.toggle("busy", busy);
      form.setAttribute("aria-busy", busy ? "true" : "false");
    },
    // showError puts an error from the API next to its field when the form
    // has that field, else above the fields. It says where it went.
    showError(err) {
      if (err.field && api.setError(err.field, err.fieldMessage)) {
        rows.get(err.field).input.focus();
        return "field";
      }
      api.setFormError(err.message, err.detail);
      formError.scrollIntoView({ block: "nearest" });
      return "form";
    },
  };
  return api;
}

function makeInput(spec, id) {
  const common = { id, name: spec.name, required: !!spec.required, autocomplete: spec.autocomplete || "off" };
  switch (spec.type) {
    case "checkbox":
      return h("input", { ...common, type: "checkbox", checked: !!spec.value, autocomplete: null });
    case "select": {
      const select = h("select", { ...common, autocomplete: null },
        spec.options.map((o) => h("option", { value: o.value }, o.label)));
      select.value = spec.value ?? spec.options[0]?.value ?? "";
      return select;
    }
    case "number":
      return h("input", {
        ...common, type: "number", inputmode: spec.step ? "decimal" : "numeric", min: spec.min ?? 0, max: spec.max, step: spec.step ?? 1,
        placeholder: spec.placeholder, value: spec.value ?? "",
      });
    default: {
      const value = spec.list && Array.isArray(spec.value) ? spec.value.join(", ") : spec.value ?? "";
      return h("input", {
        ...common, type: spec.type || "text", placeholder: spec.placeholder, value,
        spellcheck: "false", autocapitalize: "off",
      });
    }
  }
}

function readInput(input, spec) {
  switch (spec.type) {
    case "checkbox":
      return input.checked;
    case "number": {
      const s = input.value.trim();
      if (s === "") return undefined;
      const n = Number(s);
      return Number.isFinite(n) ? n : s; // a non-number goes to the API, which says what is wrong
    }
    default: {
      const s = input.value.trim();
      if (spec.list) return s === "" ? [] : s.split(/[\s,]+/).filter(Boolean);
      return s;
    }
  }
}

// formModal shows a form in a modal dialog. onSubmit(values, form) runs
// on submit and resolves to the result the modal closes with; when it
// throws an ApiError the message appears next to its field, or above the
// fields, and the dialog stays open. It resolves to the result, or
// undefined when cancelled. setup(form), if given, runs once the form is
// built (to add behaviour between fields). wide lays the fields out in two
// columns where the screen has room. fallbackFocus is openModal's.
export function formModal({ title, intro, fields, submitLabel = t("forms.save"), onSubmit
, extra = [], setup, wide = false, fallbackFocus = null }) {
  const f = buildForm({ fields, submitLabel, extra });
  const content = h("div", {}, intro ? h("p", { class: "intro" }, intro) : null, f.form);
  const m = openModal({ title, content, wide, fallbackFocus });
  f.cancel.addEventListener("click", () => m.close(undefined));
  f.form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (f.form.getAttribute("aria-busy") === "true") return;
    f.clearErrors();
    f.setBusy(true);
    try {
      const result = await onSubmit(f.values(), f);
      m.close(result);
    } catch (err) {
      if (err && err.unauthorized) {
        m.close(undefined);
        return;
      }
      f.showError(err);
    } finally {
      f.setBusy(false);
    }
  });
  if (setup) setup(f);
  return m.closed;
}
