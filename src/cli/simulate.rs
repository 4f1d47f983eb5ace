//! `dialback simulate`: a call without a phone. Each `--input` is one
//! caller action; without any, the terminal asks for them.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::flow::event::{Input, Output, Prompt, TransferResult};
use crate::flow::model::Flow;
use crate::flow::{Call, Outcome};

#[derive(clap::Args)]
pub(super) struct Args {
    /// The flow file.
    flow: PathBuf,
    /// A contact variable, `name=value` (repeatable).
    #[arg(long = "var", value_name = "K=V")]
    vars: Vec<String>,
    /// One caller action (repeatable): keys like `1` or `10#`, `say:TEXT[@CONFIDENCE]`,
    /// `silence`, `hangup`, `record:SECONDS`, `transfer:completed|busy|no-answer|failed`.
    #[arg(long = "input", value_name = "ACTION", allow_hyphen_values = true)]
    inputs: Vec<String>,
    /// Print `{"outcome", "answers", "transcript"}` as JSON.
    #[arg(long)]
    json: bool,
    /// The time of the call (RFC 3339), for business hours; default: now.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Folder that `play = "…"` paths are relative to.
    #[arg(long)]
    audio: Option<PathBuf>,
    /// An answering machine picks up: hear what the flow leaves on it
    /// (its `machine_step`).
    #[arg(long)]
    machine: bool,
}

/// Parses one caller action as written on the command line.
pub(crate) fn parse_action(s: &str) -> Result<Input, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("say:") {
        let (text, confidence) = match rest.rsplit_once('@') {
            Some((t, c)) if c.parse::<f32>().is_ok() => (t, c.parse::<f32>().unwrap_or(1.0)),
            _ => (rest, 1.0),
        };
        if !(0.0..=1.0).contains(&confidence) {
            return Err(format!("confidence in `{s}` must be between 0 and 1"));
        }
        return Ok(Input::Speech {
            text: text.to_string(),
            confidence,
        });
    }
    if let Some(secs) = s.strip_prefix("record:") {
        let duration_secs = secs
            .parse()
            .map_err(|_| format!("`{s}`: record:SECONDS takes a whole number"))?;
        return Ok(Input::Recorded {
            url: "simulated://recording".into(),
            duration_secs,
            sid: None,
        });
    }
    if let Some(result) = s.strip_prefix("transfer:") {
        let r = match result {
            "completed" | "answered" => TransferResult::Completed,
            "busy" => TransferResult::Busy,
            "no-answer" | "no_answer" => TransferResult::NoAnswer,
            "failed" => TransferResult::Failed,
            "hangup" => TransferResult::CallerHungUp,
            _ => {
                return Err(format!(
                    "`{s}`: use transfer:completed, busy, no-answer, failed or hangup"
                ));
            }
        };
        return Ok(Input::TransferEnded(r));
    }
    match s {
        "silence" | "" => Ok(Input::Silence),
        "hangup" => Ok(Input::HungUp),
        keys if keys
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#') =>
        {
            Ok(Input::Keys(keys.to_string()))
        }
        other => Err(format!(
            "`{other}` is not an action: use keys (1, 10#), say:TEXT[@0.9], silence, hangup, record:SECONDS or transfer:RESULT"
        )),
    }
}

/// In the terminal, anything that is not keys or an action is a spoken sentence.
fn parse_typed(line: &str) -> Input {
    parse_action(line).unwrap_or_else(|_| Input::Speech {
        text: line.trim().to_string(),
        confidence: 1.0,
    })
}

pub(super) fn run(args: Args) -> ExitCode {
    let Some(flow) = super::check::load_one(&args.flow, args.audio.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let vars = match parse_vars(&flow, &args.vars) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let scripted = !args.inputs.is_empty();
    let mut script = Vec::new();
    for a in &args.inputs {
        match parse_action(a) {
            Ok(i) => script.push(i),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let now = args.now.unwrap_or_else(Utc::now);
    let mut sim = Simulation::new(&flow, vars, now);
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut script = script.into_iter();
    if args.machine {
        let machine = Input::Machine {
            leave_message: true,
        };
        sim.caller(&machine, !args.json);
        sim.step(machine, !args.json);
    } else {
        sim.step(Input::Answered, !args.json);
    }
    while sim.call.outcome().is_none() {
        let input = if scripted {
            match script.next() {
                Some(i) => i,
                None => {
                    sim.note("the inputs ran out: the caller hangs up", !args.json);
                    Input::HungUp
                }
            }
        } else {
            print!("> ");
            let _ = std::io::stdout().flush();
            match lines.next() {
                Some(Ok(line)) => parse_typed(&line),
                _ => Input::HungUp,
            }
        };
        sim.caller(&input, !args.json);
        sim.step(input, !args.json);
    }
    let outcome = sim.call.outcome().unwrap_or(Outcome::Failed);
    if args.json {
        let answers: serde_json::Map<String, Json> = sim
            .call
            .answers
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    serde_json::to_value(&a.value).unwrap_or(Json::Null),
                )
            })
            .collect();
        let doc = json!({"outcome": outcome, "answers": answers, "transcript": sim.transcript});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!("\noutcome: {outcome}");
        for (name, a) in &sim.call.answers {
            println!("  {name} = {}", a.value);
        }
    }
    ExitCode::SUCCESS
}

fn parse_vars(flow: &Flow, given: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for kv in given {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("`--var {kv}` should be name=value"))?;
        if !flow.vars.iter().any(|d| d.name == k) {
            let declared: Vec<&str> = flow.vars.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "`{k}` is not a variable of this flow (declared: {})",
                declared.join(", ")
            ));
        }
        vars.insert(k.to_string(), v.to_string());
    }
    for d in &flow.vars {
        if !vars.contains_key(&d.name) {
            return Err(format!("the flow needs `--var {}=…`", d.name));
        }
    }
    Ok(vars)
}

struct Simulation<'a> {
    flow: &'a Flow,
    call: Call,
    now: DateTime<Utc>,
    transcript: Vec<Json>,
}

impl<'a> Simulation<'a> {
    fn new(flow: &'a Flow, vars: BTreeMap<String, String>, now: DateTime<Utc>) -> Self {
        Simulation {
            flow,
            call: Call::new(vars),
            now,
            transcript: Vec::new(),
        }
    }

    fn note(&mut self, text: &str, print: bool) {
        if print {
            println!("  ({text})");
        }
        self.transcript.push(json!({"note": text}));
    }

    fn caller(&mut self, input: &Input, print: bool) {
        let (text, entry) = match input {
            Input::Keys(k) => (format!("presses {k}"), json!({"caller": {"keys": k}})),
            Input::Speech { text, confidence } => (
                format!("says “{text}” ({confidence:.2})"),
                json!({"caller": {"says": text, "confidence": confidence}}),
            ),
            Input::Silence => ("stays silent".into(), json!({"caller": "silence"})),
            Input::HungUp => ("hangs up".into(), json!({"caller": "hangup"})),
            Input::Recorded { duration_secs, .. } => (
                format!("records {duration_secs}s"),
                json!({"caller": {"recorded_secs": duration_secs}}),
            ),
            Input::TransferEnded(r) => (format!("transfer: {r:?}"), json!({"transfer": r})),
            Input::TransferEndedAfterHangUp(r) => (
                format!("transfer: {r:?}, after the caller hung up"),
                json!({"transfer": r, "caller": "hangup"}),
            ),
            Input::Machine { .. } => (
                "an answering machine picks up".into(),
                json!({"caller": "machine"}),
            ),
            Input::Answered => return,
        };
        if print && !matches!(input, Input::Keys(_) | Input::Speech { .. }) {
            println!("  [caller {text}]");
        }
        self.transcript.push(entry);
    }

    fn step(&mut self, input: Input, print: bool) {
        let outputs = self.call.handle(self.flow, input, self.now);
        for o in outputs {
            if print {
                print_output(&o);
            }
            self.transcript.extend(transcript_entries(&o));
        }
    }
}

fn prompt_text(p: &Prompt) -> String {
    match p {
        Prompt::Say { text, .. } => text.clone(),
        Prompt::Play { file } => format!("♪ {file}"),
    }
}

fn print_output(o: &Output) {
    match o {
        Output::Prompt(p) => println!("🔊 {}", prompt_text(p)),
        Output::Listen(l) => {
            for p in &l.prompts {
                println!("🔊 {}", prompt_text(p));
            }
            let mut how = Vec::new();
            if l.input.keypad {
                how.push(match (l.num_digits, l.finish_key) {
                    (Some(1), _) => "a key".to_string(),
                    (_, Some(k)) => format!("keys then {k}"),
                    _ => "keys".to_string(),
                });
            }
            if l.input.speech {
                how.push("a sentence".into());
            }
            println!(
                "   [{}: {} — empty line for silence, `hangup` to hang up]",
                l.step,
                how.join(" or ")
            );
        }
        Output::Record(r) => {
            for p in &r.prompts {
                println!("🔊 {}", prompt_text(p));
            }
            println!(
                "   [{}: recording up to {}s — type record:SECONDS, or an empty line for silence]",
                r.step, r.max_secs
            );
        }
        Output::Transfer(t) => {
            println!(
                "📞 transferring to {} — type transfer:completed, busy, no-answer or failed",
                t.target
            )
        }
        Output::Answer(a) => println!("   ✓ {} = {}", a.question, a.value),
        Output::OptOut => println!("   ✓ opted out: this number will not be called again"),
        Output::Handoff(h) => println!(
            "   ↪ handoff {} to {}: {}",
            h.step,
            h.target,
            h.reason.as_str()
        ),
        Output::End { outcome } => println!("☎ call ends: {outcome}"),
    }
}

/// The transcript as analysts read it: one small object per event.
fn transcript_entries(o: &Output) -> Vec<Json> {
    let prompt = |p: &Prompt| match p {
        Prompt::Say { text, .. } => json!({"say": text}),
        Prompt::Play { file } => json!({"play": file}),
    };
    match o {
        Output::Prompt(p) => vec![prompt(p)],
        Output::Listen(l) => {
            let mut v: Vec<Json> = l.prompts.iter().map(prompt).collect();
            v.push(json!({"listen": l.step}));
            v
        }
        Output::Record(r) => {
            let mut v: Vec<Json> = r.prompts.iter().map(prompt).collect();
            v.push(json!({"record": r.step, "max_secs": r.max_secs}));
            v
        }
        Output::Transfer(t) => vec![json!({"transfer": t.target.to_string()})],
        Output::Answer(a) => {
            vec![json!({"answer": {"question": a.question, "value": a.value, "raw": a.raw}})]
        }
        Output::OptOut => vec![json!({"opt_out": true})],
        Output::Handoff(h) => vec![
            json!({"handoff": {"step": h.step, "target": h.target.to_string(), "reason": h.reason.as_str()}}),
        ],
        Output::End { outcome } => vec![json!({"end": outcome})],
    }
}
