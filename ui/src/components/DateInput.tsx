import { useEffect, useState } from "preact/hooks";
import { formatDay, parseDay } from "../format";
import { t } from "../i18n";

/**
 * A day typed as dd/mm/yyyy whatever the browser's locale (a native date input shows the browser's own format).
 * `value` and `onChange` use YYYY-MM-DD; an unreadable entry is marked invalid and not passed on.
 */
export function DateInput({
  value,
  onChange,
  label,
  name,
  inline = true,
}: {
  value: string;
  onChange: (v: string) => void;
  label: string;
  name?: string;
  inline?: boolean;
}) {
  const [text, setText] = useState(value ? formatDay(value) : "");
  const [bad, setBad] = useState(false);
  useEffect(() => {
    setText(value ? formatDay(value) : "");
    setBad(false);
  }, [value]);
  const commit = (s: string) => {
    if (s.trim() === "") {
      setBad(false);
      if (value !== "") onChange("");
      return;
    }
    const d = parseDay(s);
    setBad(d === null);
    if (d !== null && d !== value) onChange(d);
  };
  return (
    <label class={`field${inline ? " field-inline" : ""} field-date`}>
      <span>{label}</span>
      <input
        type="text"
        name={name}
        inputMode="numeric"
        autoComplete="off"
        placeholder={t("dd/mm/yyyy")}
        pattern="\d{1,2}/\d{1,2}/\d{4}"
        size={11}
        value={text}
        aria-invalid={bad ? "true" : undefined}
        title={t("Day as dd/mm/yyyy")}
        onInput={(e) => setText(e.currentTarget.value)}
        onChange={(e) => commit(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit(e.currentTarget.value);
        }}
      />
      {bad ? (
        <small class="form-error" role="alert">
          {t("Type the day as dd/mm/yyyy")}
        </small>
      ) : null}
    </label>
  );
}
