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
    another: "Write another message",
    // Calls (calls.js and the call module's call area). {{name}} is the operator's name; the keys
    // from "permission" on are the module's problem codes.
    call: {
      title: "Call",
      voiceCall: "Voice call",
      videoCall: "Video call",
      incomingVoice: "{{name}} is calling you",
      incomingVideo: "{{name}} is calling you (video)",
      calling: "Calling {{name}}…",
      connecting: "Connecting…",
      elsewhere: "This call is going on in another tab.",
      ended: "Call ended",
      declined: "{{name}} declined the call",
      missed: "No answer",
      cancelled: "Call cancelled",
      accept: "Accept",
      decline: "Decline",
      hangup: "Hang up",
      mute: "Mute",
      unmute: "Unmute",
      cameraOff: "Turn camera off",
      cameraOn: "Turn camera on",
      switchCamera: "Switch camera",
      share: "Share screen",
      stopShare: "Stop sharing",
      remoteMuted: "{{name}} is muted",
      remoteCameraOff: "{{name}}'s camera is off",
      remoteSharing: "{{name}} is sharing their screen",
      blocked: "Tap here to hear the call.",
      failed: "The call did not work. You can keep chatting.",
      permission: "Calls need your microphone (and camera): allow them for this site in your browser's address bar. You can keep chatting.",
      no_device: "No microphone was found. You can keep chatting.",
      device_busy: "Your microphone or camera is in use by another app.",
      media_failed: "Your microphone could not be started. You can keep chatting.",
      no_camera: "No camera available: voice only.",
      camera_failed: "The camera could not be started.",
      screen_failed: "Screen sharing did not start.",
      ice_failed: "The call could not connect, or the connection was lost. You can keep chatting.",
      conflict: "A call is already going on in this chat.",
      forbidden: "Calls are not available here.",
      offline: "Not connected. Please try again in a moment.",
      unsupported: "This browser cannot make calls."
    }
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
    another: "Weitere Nachricht schreiben",
    call: {
      title: "Anruf",
      voiceCall: "Sprachanruf",
      videoCall: "Videoanruf",
      incomingVoice: "{{name}} ruft Sie an",
      incomingVideo: "{{name}} ruft Sie an (Video)",
      calling: "{{name}} wird angerufen…",
      connecting: "Verbindung wird hergestellt…",
      elsewhere: "Dieser Anruf läuft in einem anderen Tab.",
      ended: "Anruf beendet",
      declined: "{{name}} hat den Anruf abgelehnt",
      missed: "Keine Antwort",
      cancelled: "Anruf abgebrochen",
      accept: "Annehmen",
      decline: "Ablehnen",
      hangup: "Auflegen",
      mute: "Stummschalten",
      unmute: "Stummschaltung aufheben",
      cameraOff: "Kamera ausschalten",
      cameraOn: "Kamera einschalten",
      switchCamera: "Kamera wechseln",
      share: "Bildschirm teilen",
      stopShare: "Teilen beenden",
      remoteMuted: "{{name}} ist stummgeschaltet",
      remoteCameraOff: "Die Kamera von {{name}} ist aus",
      remoteSharing: "{{name}} teilt den Bildschirm",
      blocked: "Hier tippen, um den Anruf zu hören.",
      failed: "Der Anruf hat nicht funktioniert. Sie können weiter chatten.",
      permission: "Für Anrufe braucht es Ihr Mikrofon (und die Kamera): Erlauben Sie es dieser Seite in der Adressleiste des Browsers. Sie können weiter chatten.",
      no_device: "Es wurde kein Mikrofon gefunden. Sie können weiter chatten.",
      device_busy: "Mikrofon oder Kamera werden von einer anderen App verwendet.",
      media_failed: "Das Mikrofon konnte nicht gestartet werden. Sie können weiter chatten.",
      no_camera: "Keine Kamera verfügbar: nur Sprache.",
      camera_failed: "Die Kamera konnte nicht gestartet werden.",
      screen_failed: "Die Bildschirmfreigabe wurde nicht gestartet.",
      ice_failed: "Der Anruf konnte nicht verbunden werden, oder die Verbindung ist abgebrochen. Sie können weiter chatten.",
      conflict: "In diesem Chat läuft bereits ein Anruf.",
      forbidden: "Anrufe sind hier nicht verfügbar.",
      offline: "Keine Verbindung. Bitte versuchen Sie es gleich noch einmal.",
      unsupported: "Dieser Browser kann keine Anrufe führen."
    }
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
