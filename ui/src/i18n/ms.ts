export const ms: Record<string, string> = {};
