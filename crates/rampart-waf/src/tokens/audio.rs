//! The CAPTCHA's audio alternative, for people who cannot see its picture: the same digits
//! spoken, as AWS's CAPTCHA offers an audio puzzle. Pure: the distortions come from a seed.
//!
//! Each digit is a recording of espeak-ng 1.51 speaking it (`digits.pcm`, made by
//! `scripts/captcha-voice.py`: 8,000 Hz, unsigned 8-bit; the synthesizer is GPL-3.0-or-later, the
//! speech it made is its output, neither its code nor its voice data), spoken faster or slower and louder or
//! softer at random, with random pauses, over noise and other digits murmured softly: a person
//! hears the digits, and no two answers' sounds are alike sample for sample. The same problem
//! always sounds the same, so fetching it again teaches nothing new.
//! See <https://docs.aws.amazon.com/waf/latest/developerguide/waf-captcha-puzzle.html>.

use super::puzzle::Stream;

/// The samples per second of the recordings and of the sound made from them.
pub const RATE: u32 = 8_000;

static DIGITS: &[u8] = include_bytes!("digits.pcm");

/// A digit's recording, as signed samples around zero.
fn recording(digit: u8) -> Vec<f32> {
    let mut rest = DIGITS;
    for d in 0..=9u8 {
        let Some((len, after)) = rest.split_first_chunk::<2>() else { return Vec::new() };
        let len = usize::from(u16::from_le_bytes(*len));
        let Some((pcm, after)) = after.split_at_checked(len) else { return Vec::new() };
        if d == digit {
            return pcm.iter().map(|s| (f32::from(*s) - 128.0) / 128.0).collect();
        }
        rest = after;
    }
    Vec::new()
}

/// `samples` spoken `speed` times as fast (linear interpolation).
fn resampled(samples: &[f32], speed: f32) -> Vec<f32> {
    let len = (samples.len() as f32 / speed) as usize;
    (0..len)
        .map(|i| {
            let t = i as f32 * speed;
            let (at, frac) = (t as usize, t.fract());
            let a = samples.get(at).copied().unwrap_or_default();
            let b = samples.get(at + 1).copied().unwrap_or(a);
            a + (b - a) * frac
        })
        .collect()
}

/// Adds `samples` into `track` at `at`, times `gain`, growing the track as needed.
fn mix(track: &mut Vec<f32>, at: usize, samples: &[f32], gain: f32) {
    if track.len() < at + samples.len() {
        track.resize(at + samples.len(), 0.0);
    }
    for (t, s) in track.iter_mut().skip(at).zip(samples) {
        *t += s * gain;
    }
}

/// The spoken `digits` as a WAV file (8,000 Hz, unsigned 8-bit, mono), distorted as `seed` says.
pub fn audio(digits: &str, seed: &[u8]) -> Vec<u8> {
    let samples = render(digits, seed).0;
    let mut wav = Vec::with_capacity(44 + samples.len());
    let data = u32::try_from(samples.len()).unwrap_or(u32::MAX);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&RATE.to_le_bytes()); // bytes per second
    wav.extend_from_slice(&1u16.to_le_bytes()); // block align
    wav.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data.to_le_bytes());
    wav.extend(samples.iter().map(|s| (128.0 + s.clamp(-1.0, 1.0) * 127.0) as u8));
    wav
}

/// The track's samples, and where each digit is in it.
fn render(digits: &str, seed: &[u8]) -> (Vec<f32>, Vec<(usize, usize)>) {
    let mut rng = Stream::new(seed);
    let rate = RATE as f32;
    let mut track = Vec::new();
    let mut spoken = Vec::new();
    let mut at = (rate * rng.between(0.4, 0.8)) as usize;
    for d in digits.bytes().filter_map(|b| b.checked_sub(b'0')).filter(|d| *d <= 9) {
        let voice = resampled(&recording(d), rng.between(0.85, 1.15));
        mix(&mut track, at, &voice, rng.between(0.7, 1.0));
        spoken.push((at, at + voice.len()));
        at += voice.len() + (rate * rng.between(0.45, 0.9)) as usize;
    }
    track.resize(at, 0.0);
    // Other digits murmured under the track, and noise over all of it.
    let murmurs = track.len() / (rate as usize / 2);
    for _ in 0..murmurs {
        let voice = resampled(&recording(rng.byte() % 10), rng.between(0.6, 1.4));
        let start = (rng.between(0.0, 1.0) * track.len() as f32) as usize;
        let end = (start + voice.len()).min(track.len());
        let voice = voice.get(..end.saturating_sub(start)).unwrap_or_default().to_vec();
        mix(&mut track, start, &voice, rng.between(0.08, 0.16));
    }
    // The noise from a generator the stream seeds (xorshift64*): a hash per sample would make
    // the sound dear to ask for.
    let mut state = u64::from_be_bytes(std::array::from_fn(|_| rng.byte())) | 1;
    for s in &mut track {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
        *s += (f32::from(r) - 127.5) / 127.5 * 0.06;
    }
    (track, spoken)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each 20 ms window's loudness (root mean square).
    fn loudness(wav: &[u8]) -> Vec<f32> {
        let samples: Vec<f32> = wav[44..].iter().map(|s| (f32::from(*s) - 128.0) / 128.0).collect();
        samples
            .chunks(RATE as usize / 50)
            .map(|w| (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt())
            .collect()
    }

    #[test]
    fn every_digit_has_a_recording() {
        for d in 0..=9 {
            let r = recording(d);
            assert!(r.len() > RATE as usize / 5 && r.len() < RATE as usize * 2, "digit {d}: {} samples", r.len());
            assert!(r.iter().any(|s| s.abs() > 0.5), "digit {d} is heard");
        }
    }

    #[test]
    fn the_digits_are_spoken_loud_between_quieter_pauses_and_the_same_problem_sounds_the_same() {
        let (digits, seed) = ("40719", b"seed-1".as_slice());
        let wav = audio(digits, seed);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize, wav.len() - 44);
        let seconds = (wav.len() - 44) as f32 / RATE as f32;
        assert!((3.0..9.0).contains(&seconds), "{seconds} s");
        assert_eq!(audio(digits, seed), wav, "the same problem, the same sound");
        assert_ne!(audio(digits, b"seed-2"), wav);
        // Each digit is where the speech is loudest; the pauses between are quieter.
        let loud = loudness(&wav);
        let spoken = render(digits, seed).1;
        assert_eq!(spoken.len(), 5);
        let window = RATE as usize / 50;
        let peak = |from: usize, to: usize| {
            loud[from / window..(to / window).min(loud.len())].iter().cloned().fold(0.0, f32::max)
        };
        for pair in spoken.windows(2) {
            let (voice, pause) =
                (peak(pair[0].0, pair[0].1), peak(pair[0].1 + window, pair[1].0.saturating_sub(window)));
            assert!(voice > 2.0 * pause, "a digit at {} ({voice}) over the pause after it ({pause})", pair[0].0);
        }
    }
}
