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
    failed: "Not sent. Tap to try again."
  },
  de: {
    greeting: "Hallo! Wie können wir Ihnen helfen?",
    offline: "Wir sind gerade nicht da. Hinterlassen Sie eine Nachricht, wir melden uns.",
    name: "Ihr Name (optional)",
    message: "Nachricht schreiben…",
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
    failed: "Nicht gesendet. Zum Wiederholen tippen."
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

// The text at the top of the conversation: the owner's, or the built-in one.
function greetingText() {
  var texts = CFG.texts || {}, offline = CFG.online === false;
  return fill((offline ? texts.offline || T.offline : texts.greeting || T.greeting), null);
}
