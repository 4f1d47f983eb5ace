//! The shape of the flow: every step target exists, every step can be
//! reached from the first, and no loop runs without waiting for the caller
//! (such a loop would talk forever, or spin the server).

use std::collections::BTreeSet;

use super::super::diagnostic::{Code, Diagnostic, did_you_mean};
use super::super::model::{Step, StepKind};
use super::super::syntax::{FlowSyntax, Sp, StepSyntax};
use super::Context;
use super::header::Header;
use super::steps::{line_of, resolve};

/// Keywords that `on_fail` accepts besides step ids.
const ON_FAIL_WORDS: &[&str] = &["skip", "end", "handoff"];

pub(super) fn unknown_target(target: &Sp<String>, ids: &[Option<Sp<String>>]) -> Diagnostic {
    let known: Vec<&str> = ids.iter().flatten().map(|i| i.value.as_str()).collect();
    let hint = did_you_mean(&target.value, known.iter().copied())
        .unwrap_or_else(|| format!("steps in this flow: {}", known.join(", ")));
    Diagnostic::error(
        Code::UnknownTarget,
        target.span.clone(),
        format!("no step is called `{}`", target.value),
    )
    .label("unknown step")
    .hint(hint)
}

/// Explicit targets written in a step, with the key they came from.
fn targets(s: &StepSyntax) -> Vec<&Sp<String>> {
    let mut out: Vec<&Sp<String>> = Vec::new();
    out.extend(s.next.iter());
    out.extend(s.on.iter().map(|(_, t)| t));
    out.extend(s.branch.iter().filter_map(|b| b.goto.as_ref()));
    out.extend(s.unavailable.iter());
    out.extend(
        s.on_fail
            .iter()
            .filter(|f| !ON_FAIL_WORDS.contains(&f.value.as_str())),
    );
    out
}

/// Returns false when a target is unknown (the flow cannot be built).
pub(super) fn check(
    cx: &mut Context<'_>,
    flow: &FlowSyntax,
    ids: &[Option<Sp<String>>],
    built: &[Option<Step>],
    header: &Header,
) -> bool {
    let mut ok = true;
    let n = flow.steps.len();
    if n == 0 {
        cx.push(
            Diagnostic::error(
                Code::NoSteps,
                flow.header.span.clone().unwrap_or(0..0),
                "the flow has no steps",
            )
            .label("nothing for the caller to hear")
            .hint("add a `[[step]]` table with an `id` and a `say`"),
        );
        return false;
    }
    let agent = header
        .agent_step
        .as_ref()
        .and_then(|a| resolve(ids, &a.value));
    // Edges: (from, to, waits_for_caller).
    let mut edges: Vec<(usize, usize, bool)> = Vec::new();
    for (i, s) in flow.steps.iter().enumerate() {
        let question = s.ask.is_some();
        for t in targets(s) {
            match resolve(ids, &t.value) {
                Some(j) => edges.push((i, j, question)),
                None => {
                    cx.push(unknown_target(t, ids));
                    ok = false;
                }
            }
        }
        let ends = s.end.is_some() || s.transfer.is_some();
        if s.next.is_none() && !ends && i + 1 < n {
            edges.push((i, i + 1, question));
        }
        if question && let Some(a) = agent {
            edges.push((i, a, true));
        }
        if let Some(f) = &s.on_fail
            && f.value == "handoff"
            && let Some(a) = agent
        {
            edges.push((i, a, true));
        }
    }
    if let Some(first) = flow.steps.first().and_then(|s| s.ask.as_ref()) {
        cx.push(
            Diagnostic::warning(Code::NoDisclosure, first.span.clone(), "the call opens with a question")
                .label("the caller has not been told who is calling, or why")
                .hint("start with a `say` step that states the purpose of the call (and that it may be recorded)"),
        );
    }
    // An answering machine enters the flow at its machine step.
    let machine = header
        .machine_step
        .as_ref()
        .and_then(|m| resolve(ids, &m.value));
    reachability(cx, flow, ids, &edges, machine);
    inputless_loops(cx, flow, ids, &edges, built);
    ok
}

fn reachability(
    cx: &mut Context<'_>,
    flow: &FlowSyntax,
    ids: &[Option<Sp<String>>],
    edges: &[(usize, usize, bool)],
    machine: Option<usize>,
) {
    let n = flow.steps.len();
    let mut seen = vec![false; n];
    let mut stack: Vec<usize> = std::iter::once(0).chain(machine).collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend(edges.iter().filter(|e| e.0 == i).map(|e| e.1));
    }
    for (i, s) in flow.steps.iter().enumerate() {
        if seen[i] {
            continue;
        }
        let span = ids[i].as_ref().map_or(s.span.clone(), |id| id.span.clone());
        let name = ids[i].as_ref().map_or("this step", |id| id.value.as_str());
        let previous = i.checked_sub(1).and_then(|p| {
            flow.steps[p]
                .end
                .as_ref()
                .or(flow.steps[p].transfer.as_ref())
        });
        let hint = match previous {
            Some(_) => {
                "the step before it ends the call or transfers it; link to this step with `next`, `on` or `goto`, or delete it"
            }
            None => {
                "link to it with `next`, `on`, `goto`, `unavailable` or `machine_step`, or delete it"
            }
        };
        cx.push(
            Diagnostic::error(
                Code::Unreachable,
                span,
                format!("step `{name}` can never be reached"),
            )
            .label("no path from the first step leads here")
            .hint(hint),
        );
    }
}

/// Finds cycles made only of steps that do not wait for the caller.
fn inputless_loops(
    cx: &mut Context<'_>,
    flow: &FlowSyntax,
    ids: &[Option<Sp<String>>],
    edges: &[(usize, usize, bool)],
    built: &[Option<Step>],
) {
    let n = flow.steps.len();
    let silent = |i: usize| match built.get(i) {
        Some(Some(step)) => !matches!(step.kind, StepKind::Question(_)),
        _ => flow.steps[i].ask.is_none(),
    };
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    // Depth-first search with an explicit path, from each silent step.
    for start in (0..n).filter(|&i| silent(i)) {
        let mut path = vec![start];
        let mut iters = vec![0usize];
        while let Some(&at) = path.last() {
            let next: Vec<usize> = edges
                .iter()
                .filter(|e| e.0 == at && !e.2 && silent(e.1))
                .map(|e| e.1)
                .collect();
            let k = iters.last().copied().unwrap_or(0);
            if k >= next.len() {
                path.pop();
                iters.pop();
                continue;
            }
            if let Some(last) = iters.last_mut() {
                *last += 1;
            }
            let to = next[k];
            if to == start {
                let mut cycle = path.clone();
                cycle.sort_unstable();
                if reported.insert(cycle) {
                    let names: Vec<String> = path
                        .iter()
                        .chain(std::iter::once(&start))
                        .map(|&i| {
                            ids[i].as_ref().map_or(
                                format!("line {}", line_of(cx.source, flow.steps[i].span.start)),
                                |id| id.value.clone(),
                            )
                        })
                        .collect();
                    let span = ids[start]
                        .as_ref()
                        .map_or(flow.steps[start].span.clone(), |id| id.span.clone());
                    cx.push(
                        Diagnostic::error(
                            Code::InputlessLoop,
                            span,
                            "these steps loop without waiting for the caller",
                        )
                        .label(names.join(" → "))
                        .hint("put a question in the loop, or end it with `end = \"…\"`"),
                    );
                }
            } else if !path.contains(&to) && to > start {
                path.push(to);
                iters.push(0);
            }
        }
    }
}
