import { currentLang, LANGS, setLang, t, type Lang } from "../i18n";

/** English / Bahasa Melayu, remembered in this browser; the page reloads in the chosen language. */
export function LanguagePicker({ id = "lang" }: { id?: string }) {
  return (
    <label class="field lang-picker" for={id}>
      <span>{t("Language")}</span>
      <select
        id={id}
        name="language"
        value={currentLang()}
        onChange={(e) => {
          setLang(e.currentTarget.value as Lang);
          location.reload();
        }}
      >
        {LANGS.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );
}
