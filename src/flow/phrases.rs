//! What the machine says on its own behalf when the flow file does not:
//! apologies, opt-out confirmation, goodbyes. Short, polite, in the
//! caller's language (Mandarin or English).

/// Languages we have phrases for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn of(tag: &str) -> Lang {
        if tag.to_ascii_lowercase().starts_with("zh")
            || tag.starts_with("cmn")
            || tag.starts_with("yue")
        {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

pub fn no_input(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "抱歉，没有听到您的回答。",
        Lang::En => "Sorry, I didn't hear an answer.",
    }
}

pub fn no_match(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "抱歉，我没有听清。",
        Lang::En => "Sorry, I didn't catch that.",
    }
}

pub fn opt_out_confirm(lang: Lang, key: Option<&str>) -> String {
    match (lang, key) {
        (Lang::Zh, Some(k)) => format!(
            "您是希望我们以后不再给您打电话吗？确认请再按{k}，或说“确认”；继续通话请按其他键。"
        ),
        (Lang::Zh, None) => {
            "您是希望我们以后不再给您打电话吗？确认请说“确认”，继续通话请说“继续”。".into()
        }
        (Lang::En, Some(k)) => format!(
            "You asked us not to call you again. To confirm, press {k} again or say yes. To carry on, press any other key."
        ),
        (Lang::En, None) => {
            "You asked us not to call you again. To confirm, say yes. To carry on, say no.".into()
        }
    }
}

pub fn opt_out_done(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "好的，我们以后不会再给您打电话。祝您生活愉快，再见。",
        Lang::En => "Done. We will not call you again. Goodbye.",
    }
}

pub fn carry_on(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "好的，我们继续。",
        Lang::En => "All right, let's carry on.",
    }
}

pub fn goodbye(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "感谢您的接听，再见。",
        Lang::En => "Thank you for your time. Goodbye.",
    }
}

/// Said when our side fails mid-call (a store error, a broken flow).
pub fn technical_problem(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "抱歉，系统暂时出现问题，我们会再与您联系。再见。",
        Lang::En => "Sorry, we have a technical problem and will get back to you. Goodbye.",
    }
}

/// Said to a queued caller while they wait, when the flow gives no `hold`.
pub fn please_hold(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "客服正忙，请您稍候，我们会尽快为您接通。",
        Lang::En => "All our agents are busy. Please hold and we will be with you shortly.",
    }
}

/// A queued caller's place in the queue (1 is next).
pub fn queue_position(lang: Lang, position: u32) -> String {
    match (lang, position) {
        (Lang::Zh, 1) => "您是下一位。".into(),
        (Lang::Zh, n) => format!("您前面还有{}位。", n - 1),
        (Lang::En, 1) => "You are next in line.".into(),
        (Lang::En, n) => format!("You are number {n} in line."),
    }
}
