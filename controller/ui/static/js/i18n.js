// The UI's strings and their translations. Every string a page shows is a
// key of the catalogs in i18n/ (en.json, fr.json: the same keys in each,
// checked by the package's tests); t(key, params) gives it in the page's
// language. The language is chosen once, when the page loads: the one
// picked with the switch (kept in localStorage), else the first of the
// browser's languages that has a catalog, else English. Changing it
// reloads the page, so no view has to redraw its text.

import en from "./i18n/en.json" with { type: "json" };
import fr from "./i18n/fr.json" with { type: "json" };

// LANGUAGES are the catalogs, each named in its own language (the switch
// shows them so).
export const LANGUAGES = [
  { code: "en", name: "English" },
  { code: "fr", name: "Français" },
];

const CATALOGS = { en, fr };
const FALLBACK = "en";
const STORAGE_KEY = "wgfleet.lang";

// chooseLanguage is the language to show: stored (the switch's choice)
// when it has a catalog, else the first of preferred (navigator.languages,
// e.g. ["fr-CA", "en"]) whose primary subtag has one, else English.
export function chooseLanguage(stored, preferred) {
  if (stored && CATALOGS[stored]) return stored;
  for (const tag of preferred || []) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (CATALOGS[primary]) return primary;
  }
  return FALLBACK;
}

function storedLanguage() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage refused (a privacy setting): the browser's choice stands
  }
}

// lang is this page load's language; it never changes (see setLanguage).
export const lang = chooseLanguage(storedLanguage(), navigator.languages || [navigator.language]);

// translator is the t function of language code (one of LANGUAGES).
export function translator(code) {
  const catalog = CATALOGS[code] || CATALOGS[FALLBACK];
  const rules = new Intl.PluralRules(code);
  const lookup = (cat, key, params) => {
    const v = cat[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return v;
    return v[rules.select(Number(params.count))] ?? v.other;
  };
  return (key, params = {}) => {
    const s = lookup(catalog, key, params) ?? lookup(CATALOGS[FALLBACK], key, params) ?? key;
    return s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  };
}

// t is the string of key in the page's language (English when the
// catalog lacks it, the key itself when no catalog has it), with each
// {name} replaced by params[name]. An entry may be plural forms
// ({"one": "…", "other": "…"}): params.count chooses by the language's
// rules (French counts 0 as one, English as other).
export const t = translator(lang);

// setLanguage keeps code as the choice and reloads the page in it.
export function setLanguage(code) {
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // not kept: it lasts this load only
  }
  location.reload();
}

// translateDocument sets the document's language and the text of every
// element of the static page marked with a data-i18n attribute (its
// aria-label for data-i18n-label), whose value is the key.
export function translateDocument(doc = document) {
  doc.documentElement.lang = lang;
  for (const el of doc.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of doc.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

// languageSwitch fills el (an empty container) with the language switch:
// a labelled select that reloads the page in the language chosen.
export function languageSwitch(el) {
  const id = "lang-select";
  const select = document.createElement("select");
  select.id = id;
  select.className = "lang-select";
  for (const l of LANGUAGES) {
    const o = document.createElement("option");
    o.value = l.code;
    o.lang = l.code;
    o.textContent = l.name;
    select.append(o);
  }
  select.value = lang;
  select.addEventListener("change", () => setLanguage(select.value));
  const label = document.createElement("label");
  label.htmlFor = id;
  label.className = "visually-hidden";
  label.textContent = t("app.language");
  el.replaceChildren(label, select);
}
