//! The interstitial pages: a CAPTCHA's picture and the page that sets a problem and sends its
//! answer. Pure: the picture's distortions come from a seed handed in.
//!
//! The picture draws each digit from strokes, each digit turned, scaled and shifted at random and
//! every point shaken, over random curves in the digits' colours: text a person reads at a
//! glance, and no `<text>` element a bot could copy.

use data_encoding::HEXLOWER;

use super::{AUDIO_PATH, DIFFICULTY, Kind, Problem, VERIFY_PATH};

/// Each digit's strokes, on a grid 6 wide and 10 high.
const GLYPHS: [&[&[(f32, f32)]]; 10] = [
    &[&[(1.0, 0.0), (5.0, 0.0), (6.0, 2.0), (6.0, 8.0), (5.0, 10.0), (1.0, 10.0), (0.0, 8.0), (0.0, 2.0), (1.0, 0.0)]],
    &[&[(1.0, 2.0), (3.0, 0.0), (3.0, 10.0)], &[(1.0, 10.0), (5.0, 10.0)]],
    &[&[(0.0, 2.0), (1.0, 0.0), (5.0, 0.0), (6.0, 2.0), (6.0, 4.0), (0.0, 10.0), (6.0, 10.0)]],
    &[
        &[
            (0.0, 1.0),
            (1.0, 0.0),
            (5.0, 0.0),
            (6.0, 2.0),
            (6.0, 3.5),
            (4.0, 5.0),
            (6.0, 6.5),
            (6.0, 8.0),
            (5.0, 10.0),
            (1.0, 10.0),
            (0.0, 9.0),
        ],
        &[(2.0, 5.0), (4.0, 5.0)],
    ],
    &[&[(4.5, 10.0), (4.5, 0.0), (0.0, 7.0), (6.0, 7.0)]],
    &[&[(6.0, 0.0), (0.5, 0.0), (0.0, 4.5), (4.0, 4.0), (6.0, 6.0), (6.0, 8.0), (5.0, 10.0), (1.0, 10.0), (0.0, 9.0)]],
    &[&[
        (5.0, 0.0),
        (2.0, 0.0),
        (0.0, 3.0),
        (0.0, 8.0),
        (1.0, 10.0),
        (5.0, 10.0),
        (6.0, 8.0),
        (6.0, 6.0),
        (5.0, 4.5),
        (1.0, 4.5),
        (0.0, 6.0),
    ]],
    &[&[(0.0, 0.0), (6.0, 0.0), (2.0, 10.0)]],
    &[
        &[(1.0, 0.0), (5.0, 0.0), (6.0, 1.5), (6.0, 3.5), (5.0, 5.0), (1.0, 5.0), (0.0, 3.5), (0.0, 1.5), (1.0, 0.0)],
        &[(1.0, 5.0), (0.0, 6.5), (0.0, 8.5), (1.0, 10.0), (5.0, 10.0), (6.0, 8.5), (6.0, 6.5), (5.0, 5.0)],
    ],
    &[&[
        (6.0, 4.0),
        (5.0, 5.5),
        (1.0, 5.5),
        (0.0, 4.0),
        (0.0, 1.5),
        (1.0, 0.0),
        (5.0, 0.0),
        (6.0, 2.0),
        (6.0, 7.0),
        (4.0, 10.0),
        (1.0, 10.0),
    ]],
];

/// The picture's size in pixels.
const WIDTH: f32 = 220.0;
const HEIGHT: f32 = 70.0;

/// An endless stream of pseudo-random bytes from a seed: SHA-256 of the seed and a counter.
pub(super) struct Stream {
    seed: Vec<u8>,
    block: [u8; 32],
    at: usize,
    counter: u64,
}

impl Stream {
    pub(super) fn new(seed: &[u8]) -> Stream {
        Stream { seed: seed.to_vec(), block: [0; 32], at: 32, counter: 0 }
    }

    pub(super) fn byte(&mut self) -> u8 {
        if self.at == self.block.len() {
            let mut input = self.seed.clone();
            input.extend_from_slice(&self.counter.to_be_bytes());
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
            self.block.copy_from_slice(hash.as_ref());
            self.counter += 1;
            self.at = 0;
        }
        let byte = self.block.get(self.at).copied().unwrap_or_default();
        self.at += 1;
        byte
    }

    /// A number in `[low, high)`.
    pub(super) fn between(&mut self, low: f32, high: f32) -> f32 {
        let unit = f32::from(u16::from_be_bytes([self.byte(), self.byte()])) / 65536.0;
        low + (high - low) * unit
    }
}

/// A CAPTCHA's picture (SVG) of `digits`, distorted as `seed` says.
pub fn picture(digits: &str, seed: &[u8]) -> String {
    let mut rng = Stream::new(seed);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="CAPTCHA picture"><rect width="100%" height="100%" fill="#f4f1ea"/>"##
    );
    let shade = |rng: &mut Stream| {
        let v = rng.between(20.0, 110.0) as u8;
        format!("#{}", HEXLOWER.encode(&[v, v.saturating_add(rng.byte() % 40), v]))
    };
    // Curves across the picture, drawn under and over the digits.
    let curve = |rng: &mut Stream| {
        format!(
            r#"<path d="M{:.1} {:.1} Q{:.1} {:.1} {:.1} {:.1}" stroke="{}" stroke-width="{:.1}" fill="none"/>"#,
            rng.between(0.0, 30.0),
            rng.between(5.0, HEIGHT - 5.0),
            rng.between(60.0, 160.0),
            rng.between(-30.0, HEIGHT + 30.0),
            rng.between(WIDTH - 30.0, WIDTH),
            rng.between(5.0, HEIGHT - 5.0),
            shade(rng),
            rng.between(1.0, 2.5),
        )
    };
    for _ in 0..4 {
        svg.push_str(&curve(&mut rng));
    }
    let step = (WIDTH - 30.0) / digits.len().max(1) as f32;
    for (i, d) in digits.bytes().enumerate() {
        let Some(glyph) = d.checked_sub(b'0').and_then(|d| GLYPHS.get(usize::from(d))) else { continue };
        let angle = rng.between(-0.4, 0.4);
        let scale = rng.between(3.6, 4.6);
        let (x0, y0) = (18.0 + step * i as f32 + rng.between(-4.0, 4.0), 12.0 + rng.between(-6.0, 8.0));
        let (sin, cos) = angle.sin_cos();
        svg.push_str(&format!(
            r#"<g stroke="{}" stroke-width="{:.1}" fill="none" stroke-linecap="round" stroke-linejoin="round">"#,
            shade(&mut rng),
            rng.between(2.2, 3.6)
        ));
        for stroke in *glyph {
            let points: Vec<String> = stroke
                .iter()
                .map(|&(x, y)| {
                    let (x, y) =
                        ((x - 3.0 + rng.between(-0.35, 0.35)) * scale, (y - 5.0 + rng.between(-0.35, 0.35)) * scale);
                    format!("{:.1},{:.1}", x0 + 12.0 + x * cos - y * sin, y0 + 22.0 + x * sin + y * cos)
                })
                .collect();
            svg.push_str(&format!(r#"<polyline points="{}"/>"#, points.join(" ")));
        }
        svg.push_str("</g>");
    }
    for _ in 0..3 {
        svg.push_str(&curve(&mut rng));
    }
    svg.push_str("</svg>");
    svg
}

/// The interstitial page for a problem: it works out the proof of work in the browser, asks a
/// person for a CAPTCHA's digits, sends the answer to [`VERIFY_PATH`] and, with the token
/// cookie set, loads the page again. The problem and nonce are this server's own base64url and
/// hex, so nothing in the page is taken from the request.
pub fn page(kind: Kind, problem: &Problem) -> String {
    let (title, form) = match (kind, &problem.picture) {
        (Kind::Captcha, Some(picture)) => (
            "Let's confirm you are human",
            format!(
                r#"<p>Type the digits in the picture.</p><div>{picture}</div>
<p><label>Or listen to them: <audio controls preload="none" src="{AUDIO_PATH}?problem={sealed}">your browser cannot play the audio</audio></label></p>
<form id="f"><label>Digits <input id="answer" name="answer" inputmode="numeric" autocomplete="off" autofocus required></label>
<button type="submit">Confirm</button></form><p id="status" role="status"></p>"#,
                sealed = problem.sealed
            ),
        ),
        _ => ("Checking your browser", r#"<p id="status">Please wait a moment…</p>"#.to_owned()),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}}input{{font-size:1.4rem;width:8rem}}</style>
</head><body><h1>{title}</h1>
{form}
<noscript><p>This page needs JavaScript to continue.</p></noscript>
<script>
var RAMPART_WAF={{kind:"{kind}",problem:"{sealed}",nonce:"{nonce}",bits:{DIFFICULTY},verify:"{VERIFY_PATH}"}};
{SCRIPT}
</script></body></html>
"#,
        kind = kind.tag(),
        sealed = problem.sealed,
        nonce = problem.nonce,
    )
}

/// The page's script: SHA-256 (the round constants worked out from the primes, as the standard
/// defines them), the proof of work, and the answer's round trip.
const SCRIPT: &str = r#"(function (W) {
  var K = [], H0 = [], n = 2;
  function frac(x) { return ((x - Math.floor(x)) * 4294967296) | 0; }
  while (K.length < 64) {
    var prime = true;
    for (var d = 2; d * d <= n; d++) if (n % d === 0) { prime = false; break; }
    if (prime) { if (H0.length < 8) H0.push(frac(Math.pow(n, 1 / 2))); K.push(frac(Math.pow(n, 1 / 3))); }
    n++;
  }
  function rotr(x, r) { return (x >>> r) | (x << (32 - r)); }
  // SHA-256 of an ASCII string: its first word (32 bits).
  function firstWord(text) {
    var bytes = [], i;
    for (i = 0; i < text.length; i++) bytes.push(text.charCodeAt(i) & 255);
    var bitLength = bytes.length * 8;
    bytes.push(128);
    while (bytes.length % 64 !== 56) bytes.push(0);
    for (i = 7; i >= 0; i--) bytes.push(i > 3 ? 0 : (bitLength >>> (i * 8)) & 255);
    var h = H0.slice(), w = new Array(64);
    for (var at = 0; at < bytes.length; at += 64) {
      for (i = 0; i < 16; i++) w[i] = (bytes[at + 4 * i] << 24) | (bytes[at + 4 * i + 1] << 16) | (bytes[at + 4 * i + 2] << 8) | bytes[at + 4 * i + 3];
      for (i = 16; i < 64; i++) {
        var s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        var s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], e = h[4], f = h[5], g = h[6], dd = h[3], hh = h[7];
      for (i = 0; i < 64; i++) {
        var t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        hh = g; g = f; f = e; e = (dd + t1) | 0; dd = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + dd) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    return h[0] >>> 0;
  }
  function work() {
    var limit = Math.pow(2, 32 - W.bits);
    for (var counter = 0; ; counter++) if (firstWord(W.nonce + ":" + counter) < limit) return String(counter);
  }
  function say(text) { var s = document.getElementById("status"); if (s) s.textContent = text; }
  function send(answer) {
    var form = "problem=" + encodeURIComponent(W.problem) + "&solution=" + work();
    if (answer !== null) form += "&answer=" + encodeURIComponent(answer);
    // What the browser says of itself, as Bot Control's targeted level weighs it.
    var nav = typeof navigator === "undefined" ? {} : navigator;
    form += "&agent=" + encodeURIComponent(nav.userAgent || "") + "&webdriver=" + (nav.webdriver === true ? "1" : "0");
    return fetch(new URL(W.verify, location.href).toString(), {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/x-www-form-urlencoded" }, body: form
    }).then(function (r) {
      if (r.ok) { location.reload(); return; }
      return r.json().then(function (e) { say(e.message || "Please try again."); });
    }, function () { say("The answer could not be sent; please try again."); });
  }
  W.firstWord = firstWord; W.work = work; W.send = send;
  if (W.kind === "captcha") {
    var f = document.getElementById("f");
    if (f) f.addEventListener("submit", function (ev) { ev.preventDefault(); say("Checking…"); send(document.getElementById("answer").value); });
  } else {
    W.done = send(null);
  }
})(RAMPART_WAF);"#;
