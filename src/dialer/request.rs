//! The provider request that places one contact's call: our webhook URLs
//! (which flow, which contact, what to do with a machine) and the machine
//! detection the campaign's plan asks for.

use super::plan::{OnMachine, PlanSpec};
use crate::twilio::rest::{CallRequest, MachineDetection};

/// The webhook URLs of one outbound call, owned here so that the
/// [`CallRequest`] sent to the provider can borrow them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUrls {
    /// The voice webhook: the flow to run, the contact, and (with
    /// detection) what the webhook does when a machine answers.
    pub voice: String,
    /// The status callback.
    pub status: String,
}

impl CallUrls {
    /// The URLs for calling contact `contact_id` with `flow`, under our
    /// public base URL `public_url`.
    pub fn new(public_url: &str, flow: &str, contact_id: i64, spec: &PlanSpec) -> Self {
        let public = public_url.trim_end_matches('/');
        let voice = format!(
            "{public}/twilio/voice?flow={}&contact={contact_id}{}",
            urlencode(flow),
            match (spec.machine_detection, spec.on_machine) {
                (true, OnMachine::LeaveMessage) => "&machine=message",
                (true, OnMachine::RetryLater) => "&machine=retry",
                _ => "",
            }
        );
        // The contact rides along so that a final status arriving before
        // the worker has recorded the CallSid can still find its contact.
        let status = format!("{public}/twilio/status?contact={contact_id}");
        Self { voice, status }
    }

    /// The request that calls `to` with these URLs, as `spec` says.
    pub fn request<'a>(&'a self, to: &'a str, spec: &PlanSpec) -> CallRequest<'a> {
        CallRequest {
            to,
            url: &self.voice,
            status_callback: &self.status,
            machine_detection: machine_detection(spec),
            ring_timeout_secs: spec.ring_timeout_secs,
        }
    }
}

/// The provider's detection mode for a plan.
fn machine_detection(spec: &PlanSpec) -> Option<MachineDetection> {
    if spec.on_machine == OnMachine::LeaveMessage {
        // The message must start after the machine's greeting and beep,
        // not over them.
        Some(MachineDetection::DetectMessageEnd)
    } else if spec.machine_detection {
        Some(MachineDetection::Enable)
    } else {
        None
    }
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(machine_detection: bool, on_machine: OnMachine) -> PlanSpec {
        PlanSpec {
            machine_detection,
            on_machine,
            ..PlanSpec::default()
        }
    }

    #[test]
    fn the_voice_url_names_the_flow_the_contact_and_what_a_machine_gets() {
        for (detection, on_machine, voice) in [
            (
                false,
                OnMachine::RetryLater,
                "https://ivr.example.com/twilio/voice?flow=nps&contact=7",
            ),
            (
                true,
                OnMachine::RetryLater,
                "https://ivr.example.com/twilio/voice?flow=nps&contact=7&machine=retry",
            ),
            (
                true,
                OnMachine::RunFlow,
                "https://ivr.example.com/twilio/voice?flow=nps&contact=7",
            ),
            (
                true,
                OnMachine::LeaveMessage,
                "https://ivr.example.com/twilio/voice?flow=nps&contact=7&machine=message",
            ),
        ] {
            let urls = CallUrls::new(
                "https://ivr.example.com/",
                "nps",
                7,
                &spec(detection, on_machine),
            );
            assert_eq!(urls.voice, voice, "{detection} {on_machine:?}");
            assert_eq!(
                urls.status,
                "https://ivr.example.com/twilio/status?contact=7"
            );
        }
    }

    #[test]
    fn a_flow_name_is_escaped_in_the_voice_url() {
        let urls = CallUrls::new("https://ivr.example.com", "a b&c", 1, &PlanSpec::default());
        assert_eq!(
            urls.voice,
            "https://ivr.example.com/twilio/voice?flow=a+b%26c&contact=1"
        );
    }

    #[test]
    fn detection_waits_for_the_beep_only_when_a_message_is_left() {
        for (detection, on_machine, mode) in [
            (false, OnMachine::RetryLater, None),
            (false, OnMachine::RunFlow, None),
            (true, OnMachine::RetryLater, Some(MachineDetection::Enable)),
            (true, OnMachine::RunFlow, Some(MachineDetection::Enable)),
            (
                true,
                OnMachine::LeaveMessage,
                Some(MachineDetection::DetectMessageEnd),
            ),
            (
                false,
                OnMachine::LeaveMessage,
                Some(MachineDetection::DetectMessageEnd),
            ),
        ] {
            let spec = spec(detection, on_machine);
            let urls = CallUrls::new("https://ivr.example.com", "nps", 7, &spec);
            let request = urls.request("+14155552671", &spec);
            assert_eq!(
                request.machine_detection, mode,
                "{detection} {on_machine:?}"
            );
            assert_eq!(request.to, "+14155552671");
            assert_eq!(request.ring_timeout_secs, spec.ring_timeout_secs);
        }
    }
}
