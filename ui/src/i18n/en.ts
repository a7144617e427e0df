// English: the keys are the English texts, so this dictionary only holds texts that differ from their key.
export const en: Record<string, string> = {};
