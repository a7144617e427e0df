// Languages: English (the keys) and Bahasa Melayu. One dictionary file per language (en.ts, ms.ts) maps the English
// text to the shown text; `t()` fills {name} placeholders. The choice is remembered in localStorage per browser
// user and applied at once (the app re-renders on a change).
import { en } from "./en";
import { ms } from "./ms";
import { msIssues } from "./ms.issues";
import { msSettings } from "./ms.settings";

export type Lang = "en" | "ms";
export const LANGS: { code: Lang; name: string }[] = [
  { code: "en", name: "English" },
  { code: "ms", name: "Bahasa Melayu" },
];
const DICTS: Record<Lang, Record<string, string>> = { en, ms: { ...ms, ...msIssues, ...msSettings } };
const STORAGE_KEY = "tapak.lang";

function initial(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    if (v === "en" || v === "ms") return v;
  } catch {
    /* storage blocked: English */
  }
  return "en";
}

let lang: Lang = initial();
const listeners = new Set<() => void>();
/** Keys asked for in a language whose dictionary lacks them (the e2e asserts none in Malay). */
const missing = new Set<string>();
(window as unknown as { __tapakI18nMissing: Set<string> }).__tapakI18nMissing = missing;

export function currentLang(): Lang {
  return lang;
}

export function setLang(l: Lang): void {
  if (l === lang) return;
  lang = l;
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    /* not remembered */
  }
  document.documentElement.lang = l;
  for (const f of listeners) f();
}

export function onLangChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

document.documentElement.lang = lang;

/** The text for `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key: string, vars?: Record<string, string | number>): string {
  let s = DICTS[lang][key];
  if (s === undefined) {
    if (lang !== "en") missing.add(key);
    s = key;
  }
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, k: string) => {
      const v = vars[k];
      return v === undefined ? m : typeof v === "number" ? formatNumber(v) : v;
    });
  }
  return s;
}

/** `one` when n is 1, else `other` (both keys; `{n}` is filled). Malay does not inflect, its dictionary says the same. */
export function tn(n: number, one: string, other: string, vars?: Record<string, string | number>): string {
  return t(n === 1 ? one : other, { n, ...vars });
}

const LOCALE: Record<Lang, string> = { en: "en-GB", ms: "ms-MY" };

export function locale(): string {
  return LOCALE[lang];
}

const nf = new Map<string, Intl.NumberFormat>();
/** 1,234 in English, 1,234 in Malay (ms-MY groups the same way), decimals to `digits`. */
export function formatNumber(n: number, digits = 0): string {
  const k = `${lang}|${digits}`;
  let f = nf.get(k);
  if (!f) {
    f = new Intl.NumberFormat(LOCALE[lang], { maximumFractionDigits: digits });
    nf.set(k, f);
  }
  return f.format(n);
}

/** A duration in minutes as "2 h 30 min" / "2 j 30 min", "3 days" / "3 hari". */
export function formatDuration(minutes: number): string {
  const m = Math.round(Math.abs(minutes));
  if (m < 60) return t("{n} min", { n: m });
  if (m < 24 * 60) {
    const h = Math.floor(m / 60);
    const r = m % 60;
    return r ? t("{h} h {m} min", { h, m: r }) : t("{n} h", { n: h });
  }
  const d = Math.floor(m / (24 * 60));
  const h = Math.round((m % (24 * 60)) / 60);
  return h ? t("{d} d {h} h", { d, h }) : tn(d, "{n} day", "{n} days");
}
