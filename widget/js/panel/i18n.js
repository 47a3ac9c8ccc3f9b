// Built-in texts, English and German, chosen by the browser's language. The owner's texts (config.texts)
// replace the greeting and the offline text. Everything here ends up in textContent, never in markup.
var STRINGS = {
  en: {
    greeting: "Hi! How can we help you today?",
    offline: "We're not here right now. Leave a message and we'll get back to you.",
    name: "Your name (optional)",
    message: "Type your message…",
    send: "Send",
    close: "Close chat",
    log: "Messages",
    connecting: "Connecting…",
    waiting: "Waiting for an operator…",
    open: "You're chatting with {{operator_name}}",
    closed: "This chat has ended",
    again: "Start a new chat",
    typing: "{{operator_name}} is typing…",
    pending: "Sending…",
    sent: "Sent",
    read: "Read",
    failed: "Not sent. Tap to try again.",
    attach: "Attach a file",
    uploading: "Uploading…",
    tooLarge: "File too large",
    badType: "This type of file is not accepted",
    uploadFailed: "Upload failed",
    retry: "Try again",
    dismiss: "Dismiss",
    download: "Download",
    preview: "The team can see what you type before you send it.",
    signIn: "Are you {{operator_name}}? Sign in",
    email: "Your email",
    leave: "Your message",
    pickFile: "Attach a file (optional)",
    leaveSend: "Send message",
    needEmail: "Please enter a valid email address.",
    needMessage: "Please write a message.",
    tooLong: "Your message is too long (at most 4000 characters).",
    leaveFailed: "Your message could not be sent. Please try again.",
    thanks:
      "Thanks! We got your message and will reply to {{email}}. If you come back here, you'll see our reply in this chat too.",
    another: "Write another message"
  },
  de: {
    greeting: "Hallo! Wie können wir Ihnen helfen?",
    offline: "Wir sind gerade nicht da. Hinterlassen Sie eine Nachricht, wir melden uns.",
    name: "Ihr Name (optional)",
    // Short enough for the composer of a 370 px panel next to "Senden" (longer ones were clipped).
    message: "Ihre Nachricht…",
    send: "Senden",
    close: "Chat schließen",
    log: "Nachrichten",
    connecting: "Verbindung wird hergestellt…",
    waiting: "Warten auf einen Mitarbeiter…",
    open: "Sie chatten mit {{operator_name}}",
    closed: "Dieser Chat ist beendet",
    again: "Neuen Chat beginnen",
    typing: "{{operator_name}} schreibt…",
    pending: "Wird gesendet…",
    sent: "Gesendet",
    read: "Gelesen",
    failed: "Nicht gesendet. Zum Wiederholen tippen.",
    attach: "Datei anhängen",
    uploading: "Wird hochgeladen…",
    tooLarge: "Datei zu groß",
    badType: "Dieser Dateityp wird nicht angenommen",
    uploadFailed: "Hochladen fehlgeschlagen",
    retry: "Erneut versuchen",
    dismiss: "Verwerfen",
    download: "Herunterladen",
    preview: "Das Team sieht, was Sie schreiben, bevor Sie es senden.",
    signIn: "Sind Sie {{operator_name}}? Anmelden",
    email: "Ihre E-Mail-Adresse",
    leave: "Ihre Nachricht",
    pickFile: "Datei anhängen (optional)",
    leaveSend: "Nachricht senden",
    needEmail: "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
    needMessage: "Bitte schreiben Sie eine Nachricht.",
    tooLong: "Ihre Nachricht ist zu lang (höchstens 4000 Zeichen).",
    leaveFailed: "Ihre Nachricht konnte nicht gesendet werden. Bitte versuchen Sie es erneut.",
    thanks:
      "Danke! Wir haben Ihre Nachricht erhalten und antworten an {{email}}. Wenn Sie wieder hierher kommen, sehen Sie unsere Antwort auch in diesem Chat.",
    another: "Weitere Nachricht schreiben"
  }
};

var LANG = String(navigator.language || "").toLowerCase().slice(0, 2) == "de" ? "de" : "en";
var T = STRINGS[LANG];

// Fills {{site_name}} and {{operator_name}} into a template, as plain text replacement. Without an
// operator yet, the operator's name is the /u/HANDLE page's operator or else the site's name.
function fill(template, operator) {
  return String(template)
    .split("{{site_name}}")
    .join(CFG.site_name || "")
    .split("{{operator_name}}")
    .join(operator || CFG.operator_name || CFG.site_name || "");
}

// The text at the top of the conversation: the owner's, or the built-in one; the offline text while
// nobody can answer (`siteOnline`, offline.js).
function greetingText() {
  var texts = CFG.texts || {};
  return fill(siteOnline ? texts.greeting || T.greeting : texts.offline || T.offline, null);
}

// "512 B", "1.5 KB", "12 KB", "3.2 MB" (with a decimal comma in German), or "" for no size.
function humanSize(bytes) {
  if (typeof bytes != "number" || !(bytes >= 0) || bytes == Infinity) return "";
  if (bytes < 1024) return bytes + " B";
  var units = ["KB", "MB", "GB"], n = bytes / 1024, u = 0;
  while (n >= 1024 && u < 2) {
    n /= 1024;
    u++;
  }
  var text = n < 10 ? n.toFixed(1).replace(/\.0$/, "") : String(Math.round(n));
  return (LANG == "de" ? text.replace(".", ",") : text) + " " + units[u];
}
