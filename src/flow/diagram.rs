//! Pictures of a flow for ops staff: Mermaid (renders in GitLab/GitHub and
//! most wikis) and Graphviz DOT.

use super::model::{Flow, OnFail, QuestionKind, StepKind};

/// One arrow between steps; `to == None` means the call ends.
struct Edge {
    from: usize,
    to: Option<usize>,
    label: String,
}

fn node_label(flow: &Flow, i: usize) -> (String, &'static str) {
    let step = &flow.steps[i];
    match &step.kind {
        StepKind::Message { end: Some(o) } => (format!("{}\\nend: {o}", step.id), "end"),
        StepKind::Message { end: None } => (format!("{}\\nsay", step.id), "say"),
        StepKind::Question(q) => {
            let kind = match &q.kind {
                QuestionKind::Rating { min, max } => format!("rating {min}-{max}"),
                QuestionKind::Number { min, max } => format!("number {min}-{max}"),
                k => k.name().to_string(),
            };
            (format!("{}\\n{kind}", step.id), "ask")
        }
        StepKind::Transfer(t) => (format!("{}\\ntransfer {}", step.id, t.target), "transfer"),
    }
}

fn edges(flow: &Flow) -> Vec<Edge> {
    let mut out = Vec::new();
    for (i, step) in flow.steps.iter().enumerate() {
        for (value, to) in &step.on {
            out.push(Edge {
                from: i,
                to: Some(*to),
                label: value.clone(),
            });
        }
        for (cond, to) in &step.branches {
            out.push(Edge {
                from: i,
                to: Some(*to),
                label: format!("if {cond}"),
            });
        }
        match &step.kind {
            StepKind::Message { end: Some(_) } => {}
            StepKind::Transfer(t) => {
                out.push(Edge {
                    from: i,
                    to: step.next,
                    label: "connected".into(),
                });
                if let Some(u) = t.unavailable {
                    out.push(Edge {
                        from: i,
                        to: Some(u),
                        label: "unavailable".into(),
                    });
                }
            }
            StepKind::Question(q) => {
                out.push(Edge {
                    from: i,
                    to: step.next,
                    label: String::new(),
                });
                match q.on_fail {
                    OnFail::Goto(to) => out.push(Edge {
                        from: i,
                        to: Some(to),
                        label: "no answer".into(),
                    }),
                    OnFail::End => out.push(Edge {
                        from: i,
                        to: None,
                        label: "no answer".into(),
                    }),
                    OnFail::Skip => {}
                }
            }
            StepKind::Message { end: None } => out.push(Edge {
                from: i,
                to: step.next,
                label: String::new(),
            }),
        }
    }
    out
}

/// Mermaid `flowchart`.
pub fn mermaid(flow: &Flow) -> String {
    let mut s = String::from("flowchart TD\n");
    for i in 0..flow.steps.len() {
        let (label, shape) = node_label(flow, i);
        let label = label.replace('"', "'").replace("\\n", "<br/>");
        let id = &flow.steps[i].id;
        let node = match shape {
            "ask" => format!("  {id}{{\"{label}\"}}\n"),
            "end" => format!("  {id}([\"{label}\"])\n"),
            "transfer" => format!("  {id}[[\"{label}\"]]\n"),
            _ => format!("  {id}[\"{label}\"]\n"),
        };
        s.push_str(&node);
    }
    s.push_str("  hangup((end))\n");
    for e in edges(flow) {
        let from = &flow.steps[e.from].id;
        let to = e.to.map_or("hangup", |t| flow.steps[t].id.as_str());
        if e.label.is_empty() {
            s.push_str(&format!("  {from} --> {to}\n"));
        } else {
            s.push_str(&format!(
                "  {from} -->|\"{}\"| {to}\n",
                e.label.replace('"', "'")
            ));
        }
    }
    s
}

/// Graphviz DOT.
pub fn dot(flow: &Flow) -> String {
    let mut s = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [fontname=\"sans-serif\"];\n",
        flow.name
    );
    for i in 0..flow.steps.len() {
        let (label, shape) = node_label(flow, i);
        let shape = match shape {
            "ask" => "diamond",
            "end" => "doubleoctagon",
            "transfer" => "box3d",
            _ => "box",
        };
        s.push_str(&format!(
            "  \"{}\" [shape={shape}, label=\"{}\"];\n",
            flow.steps[i].id,
            label.replace('"', "\\\"")
        ));
    }
    s.push_str("  \"(end)\" [shape=circle];\n");
    for e in edges(flow) {
        let to = e.to.map_or("(end)", |t| flow.steps[t].id.as_str());
        s.push_str(&format!(
            "  \"{}\" -> \"{to}\" [label=\"{}\"];\n",
            flow.steps[e.from].id,
            e.label.replace('"', "\\\"")
        ));
    }
    s.push_str("}\n");
    s
}
