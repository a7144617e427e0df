// Bahasa Melayu for the Settings screens (WhatsApp connections, users and API tokens, reminders, vendors) and the
// vendor lines of a ticket's history. Kept apart from ms.ts so that screens worked on at the same time merge cleanly;
// the format is the same: the English text (the key) → the Malay text.
export const msSettings: Record<string, string> = {
  "Assigned to vendor {vendor} by {who}": "Diserahkan kepada vendor {vendor} oleh {who}",
  "{who} took the ticket from its vendor": "{who} mengambil tiket daripada vendornya",
};
