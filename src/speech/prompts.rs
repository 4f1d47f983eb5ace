//! Prompts as frames: what the media loop plays for each
//! [`crate::flow::Prompt`].
//!
//! `Play { file }` is a WAV under the audio folder, converted once by the
//! [`PromptCache`]. `Say { text, language }` is looked up, in order: in
//! memory; as a pre-rendered file `audio/tts/<key>.wav` (written by
//! `dialback prompts render`, so production never waits for synthesis);
//! and only then synthesised, once per text and language even when many
//! calls ask at the same moment.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::{SpeechError, Synthesiser};
use crate::flow::model::{Speech, StepKind};
use crate::flow::phrases::{self, Lang};
use crate::flow::{self, Flow, template};
use crate::media::{Prompt, PromptCache, load_prompt};

/// Spoken texts held in memory at most; past this the memory cache starts
/// over. Texts naming a contact differ per call and would grow it forever.
const MAX_SPOKEN: usize = 2_048;

/// The folder (under the audio folder) of pre-rendered texts.
pub const TTS_DIR: &str = "tts";

/// The cue before a recording, under the audio folder (ops may replace it).
/// The flows say "after the tone"; in TwiML mode the provider plays its own
/// beep (`<Record playBeep>`), on a stream we must.
pub const BEEP_FILE: &str = "beep.wav";

/// Where a text's pre-rendered file lives, relative to the audio folder:
/// `tts/<first 16 hex digits of SHA-256(language, text)>.wav`.
pub fn rendered_path(text: &str, language: &str) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(language.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    let digest = hex::encode(hasher.finalize());
    Path::new(TTS_DIR).join(format!("{}.wav", &digest[..16]))
}

type Slot = Arc<OnceCell<Arc<Prompt>>>;

/// Renders prompts for every call of a server.
pub struct PromptSource {
    audio_dir: PathBuf,
    files: Arc<PromptCache>,
    synthesiser: Option<Arc<dyn Synthesiser>>,
    spoken: Mutex<HashMap<(String, String), Slot>>,
}

impl PromptSource {
    pub fn new(audio_dir: PathBuf, synthesiser: Option<Arc<dyn Synthesiser>>) -> PromptSource {
        PromptSource {
            audio_dir,
            files: Arc::new(PromptCache::new()),
            synthesiser,
            spoken: Mutex::new(HashMap::new()),
        }
    }

    /// The frames of one prompt.
    pub async fn render(&self, prompt: &flow::Prompt) -> Result<Arc<Prompt>, SpeechError> {
        match prompt {
            flow::Prompt::Play { file } => self.file(self.audio_dir.join(file)).await,
            flow::Prompt::Say { text, language } => self.say(text, language).await,
        }
    }

    /// The tone before a recording: `audio/beep.wav`, or, when that file is
    /// missing or unreadable, a built-in 400 ms 1 kHz tone, so the caller is
    /// never left guessing when to speak.
    pub async fn beep(&self) -> Arc<Prompt> {
        let path = self.audio_dir.join(BEEP_FILE);
        if path.is_file() {
            match self.file(path).await {
                Ok(p) => return p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the recording beep; using the built-in one")
                }
            }
        }
        static BUILT_IN: std::sync::OnceLock<Arc<Prompt>> = std::sync::OnceLock::new();
        Arc::clone(BUILT_IN.get_or_init(|| Arc::new(Prompt::from_pcm8k(&built_in_beep()))))
    }

    async fn file(&self, path: PathBuf) -> Result<Arc<Prompt>, SpeechError> {
        let files = Arc::clone(&self.files);
        // Converting (resampling) a long file takes milliseconds: off the
        // async threads, so other calls' frames keep their pace.
        tokio::task::spawn_blocking(move || files.get(&path))
            .await
            .map_err(|e| SpeechError::Io(std::io::Error::other(e)))?
            .map_err(SpeechError::from)
    }

    async fn say(&self, text: &str, language: &str) -> Result<Arc<Prompt>, SpeechError> {
        let slot = {
            let mut spoken = self.spoken.lock().unwrap_or_else(PoisonError::into_inner);
            if spoken.len() >= MAX_SPOKEN {
                spoken.clear();
            }
            Arc::clone(
                spoken
                    .entry((language.to_string(), text.to_string()))
                    .or_default(),
            )
        };
        let prompt = slot
            .get_or_try_init(|| async {
                let pre_rendered = self.audio_dir.join(rendered_path(text, language));
                if pre_rendered.is_file() {
                    return self.file(pre_rendered).await;
                }
                self.synthesise(text, language).await
            })
            .await?;
        Ok(Arc::clone(prompt))
    }

    async fn synthesise(&self, text: &str, language: &str) -> Result<Arc<Prompt>, SpeechError> {
        let synthesiser = self
            .synthesiser
            .as_ref()
            .ok_or(SpeechError::NoSynthesiser)?;
        let temp = TempWav::new();
        synthesiser.synthesise(text, language, &temp.0).await?;
        let path = temp.0.clone();
        let prompt = tokio::task::spawn_blocking(move || load_prompt(&path))
            .await
            .map_err(|e| SpeechError::Io(std::io::Error::other(e)))??;
        Ok(Arc::new(prompt))
    }
}

/// A temporary WAV path, removed on drop.
struct TempWav(PathBuf);

impl TempWav {
    fn new() -> TempWav {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TempWav(std::env::temp_dir().join(format!("dialback-tts-{}-{n}.wav", std::process::id())))
    }
}

impl Drop for TempWav {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// 400 ms of 1 kHz at about -10 dBFS with 10 ms ramps (no click), at 8 kHz.
fn built_in_beep() -> Vec<i16> {
    const RATE: f64 = 8_000.0;
    let n = 3_200usize;
    let ramp = 80usize;
    (0..n)
        .map(|i| {
            let gain = (i.min(n - 1 - i) as f64 / ramp as f64).min(1.0);
            let t = i as f64 / RATE;
            (0.3 * 32_767.0 * gain * (2.0 * std::f64::consts::PI * 1_000.0 * t).sin()) as i16
        })
        .collect()
}

/// The texts of a flow that can be rendered ahead of time, as
/// (text, language), and the template names that cannot (they name a
/// contact variable or an answer, so they differ per call).
pub fn fixed_texts(flow: &Flow) -> (Vec<(String, String)>, Vec<String>) {
    let mut texts = BTreeMap::new();
    let mut per_call = Vec::new();
    let mut add = |speech: &Speech, language: &str| {
        let Speech::Text(name) = speech else {
            return;
        };
        let varies = flow
            .templates
            .get_template(name)
            .map(|t| !t.undeclared_variables(false).is_empty())
            .unwrap_or(true);
        if varies {
            per_call.push(name.clone());
        } else {
            let text = template::render(&flow.templates, name, &BTreeMap::new());
            texts.insert((text, language.to_string()), ());
        }
    };
    let mut languages = vec![flow.language.clone()];
    for step in &flow.steps {
        if let Some(s) = &step.speech {
            add(s, &step.language);
        }
        if let StepKind::Question(q) = &step.kind {
            add(&q.prompt, &step.language);
            for s in q.no_input.iter().chain(&q.no_match) {
                add(s, &step.language);
            }
        }
        if !languages.contains(&step.language) {
            languages.push(step.language.clone());
        }
    }
    for s in flow.opt_out_confirm.iter().chain(&flow.opt_out_goodbye) {
        add(s, &flow.language);
    }
    // What the machine says on its own behalf, in each language it speaks.
    for language in &languages {
        let lang = Lang::of(language);
        let own = [
            phrases::no_input(lang).to_string(),
            phrases::no_match(lang).to_string(),
            phrases::opt_out_confirm(lang, flow.keys.opt_out.as_deref()),
            phrases::opt_out_done(lang).to_string(),
            phrases::carry_on(lang).to_string(),
            phrases::goodbye(lang).to_string(),
            phrases::technical_problem(lang).to_string(),
        ];
        for text in own {
            texts.insert((text, language.clone()), ());
        }
    }
    (texts.into_keys().collect(), per_call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_has_one_stable_file_per_language() {
        let a = rendered_path("您好", "zh-CN");
        assert_eq!(a, rendered_path("您好", "zh-CN"));
        assert_ne!(a, rendered_path("您好", "en-US"));
        assert!(a.starts_with("tts") && a.extension().is_some_and(|e| e == "wav"));
    }

    #[tokio::test]
    async fn the_recording_beep_comes_from_the_audio_folder_or_is_built_in() {
        let audio = tempfile::tempdir().expect("a temp dir");
        let source = PromptSource::new(audio.path().to_path_buf(), None);
        let built_in = source.beep().await;
        assert_eq!(built_in.duration, std::time::Duration::from_millis(400));
        crate::media::pcm8k_to_wav(&vec![1_000i16; 1_600], &audio.path().join(BEEP_FILE))
            .expect("a WAV");
        let fresh = PromptSource::new(audio.path().to_path_buf(), None);
        assert_eq!(
            fresh.beep().await.duration,
            std::time::Duration::from_millis(200),
            "an ops-supplied beep wins"
        );
    }

    #[test]
    fn the_shipped_beep_is_the_built_in_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("audio")
            .join(BEEP_FILE);
        let shipped = crate::media::PromptCache::new()
            .get(&path)
            .expect("audio/beep.wav is shipped and readable");
        assert_eq!(*shipped, Prompt::from_pcm8k(&built_in_beep()));
    }

    #[tokio::test]
    async fn a_pre_rendered_text_is_played_without_any_synthesiser() {
        let audio = tempfile::tempdir().expect("a temp dir");
        let path = audio.path().join(rendered_path("您好", "zh-CN"));
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        crate::media::pcm8k_to_wav(&vec![1_000i16; 8_000], &path).expect("a WAV");
        let source = PromptSource::new(audio.path().to_path_buf(), None);
        let say = |text: &str| flow::Prompt::Say {
            text: text.into(),
            language: "zh-CN".into(),
        };
        let prompt = source.render(&say("您好")).await.expect("pre-rendered");
        assert_eq!(prompt.frames.len(), 50);
        assert!(matches!(
            source.render(&say("再见")).await,
            Err(SpeechError::NoSynthesiser)
        ));
    }

    #[tokio::test]
    async fn espeak_speaks_mandarin_and_english_once_per_text() {
        let espeak = super::super::Espeak::default();
        assert!(espeak.is_installed(), "scripts/test installs espeak-ng");
        let audio = tempfile::tempdir().expect("a temp dir");
        let source = PromptSource::new(audio.path().to_path_buf(), Some(Arc::new(espeak)));
        for (text, language) in [("您好，请按1。", "zh-CN"), ("Hello, press one.", "en-US")] {
            let p = flow::Prompt::Say {
                text: text.into(),
                language: language.into(),
            };
            let first = source.render(&p).await.expect("espeak renders");
            assert!(
                first.duration.as_millis() > 500,
                "{text}: {:?}",
                first.duration
            );
            let again = source.render(&p).await.expect("cached");
            assert!(Arc::ptr_eq(&first, &again), "rendered once, then cached");
        }
    }

    #[test]
    fn texts_naming_a_contact_are_left_for_the_call() {
        let flow = crate::flow::load::load_file(
            Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/call-flows/wallet-followup.toml"
            )),
            None,
        )
        .flow
        .expect("the example flow loads");
        let (texts, per_call) = fixed_texts(&flow);
        assert!(
            texts
                .iter()
                .any(|(t, l)| t.starts_with("现在方便") && l == "zh-CN")
        );
        assert!(texts.iter().any(|(t, _)| t == phrases::no_input(Lang::Zh)));
        assert_eq!(
            per_call.len(),
            1,
            "only the greeting names the contact: {per_call:?}"
        );
    }
}
