//! Requests a caller can make at any point: stop calling me, let me talk to a person.
//!
//! A request is a verb and its object in order ("不要 … 打电话", "speak … agent"),
//! with only glue words between ([`Pattern`]), so a caller *mentioning* the
//! same words is not a request ("你们客服说过会处理", "the agent told me").

use std::sync::LazyLock;

use super::phrases::{Pattern, Patterns, Phrases, any_between};
use super::text::{clauses, tokens};

// Opt-out, in Mandarin.

/// "Don't", as said to a caller.
#[rustfmt::skip]
const DONT_ZH: &[&str] = &[
    "不要", "别", "不许", "不准", "甭", "请勿", "勿", "不想", "不希望", "不愿意", "千万别",
    "再也别", "再也不要", "禁止", "请不要",
];
/// Calling and contacting. A bare 打 is only "call" with a phone as its object
/// or at the end of a clause ("别再打"): elsewhere it may be 打分, "give a score".
#[rustfmt::skip]
const CALL_ZH: &[&str] = &[
    "打电话", "打来", "打过来", "打给我", "打我电话", "打我", "打了", "给我打", "来电", "联系我",
    "联系了", "骚扰", "打扰", "回访", "接受回访", "接到", "收到", "发短信", "发信息", "发消息",
];
#[rustfmt::skip]
const CALL_OBJECT_ZH: &[&str] = &[
    "$", "这个号码", "这个号", "这个电话", "这个手机", "我的电话", "我电话", "我的手机", "我手机",
];
/// "No need" refuses calls only with "again": "不用再打了", not "不用打了".
const NO_NEED_ZH: &[&str] = &["不用", "不需要", "没必要", "无需"];
const AGAIN_ZH: &[&str] = &["再", "以后"];
const ERASE_ZH: &[&str] = &["删除", "删掉", "删了", "去掉", "移除"];
const MY_NUMBER_ZH: &[&str] = &["号码", "电话号码", "手机号", "信息", "名单", "列表"];
const OPT_OUT_WORDS_ZH: &[&str] = &["拉黑", "黑名单", "退订", "免打扰", "骚扰电话"];

// Opt-out, in English.

const STOP_EN: &[&str] = &["stop", "quit", "cease"];
#[rustfmt::skip]
const CALLING_EN: &[&str] = &[
    "calling", "phoning", "ringing", "contacting", "bothering", "harassing", "texting", "calls",
];
const DONT_EN: &[&str] = &["dont", "do not", "never"];
const CALL_EN: &[&str] = &["call", "phone", "ring", "contact", "bother", "text"];
#[rustfmt::skip]
const CALL_WHOM_EN: &[&str] = &[
    "me", "us", "again", "anymore", "back", "here", "this number", "$",
];
const NOT_TO_EN: &[&str] = &["not to"];
const DONT_WANT_EN: &[&str] = &["dont want", "do not want", "dont need", "do not need"];
#[rustfmt::skip]
const DONT_WANT_YOU_TO_EN: &[&str] = &[
    "dont want you to", "do not want you to", "dont want", "do not want",
];
const CALLS_EN: &[&str] = &["calls", "called", "calling", "phone calls"];
const NO_MORE_EN: &[&str] = &["no more"];
const REMOVE_EN: &[&str] = &["remove", "take", "delete", "erase", "lose", "scrub"];
#[rustfmt::skip]
const ME_EN: &[&str] = &[
    "me", "my number", "my phone number", "my details", "my information", "my info", "my name",
];
#[rustfmt::skip]
const LIST_EN: &[&str] = &[
    "list", "lists", "calling list", "call list", "contact list", "database", "system", "records",
    "file", "survey", "surveys", "$",
];
#[rustfmt::skip]
const OPT_OUT_WORDS_EN: &[&str] = &[
    "unsubscribe", "opt out", "opt me out", "do not call list", "dnc list", "leave me alone",
    "harassing me", "harass me", "harassment",
];

#[rustfmt::skip]
const OPT_OUT: &[Pattern] = &[
    // 不要再给我打电话了 / 以后别联系我 / 不想再接到你们的电话
    &[DONT_ZH, CALL_ZH],
    // 别再打 / 不要再打这个号码了
    &[DONT_ZH, &["打"], CALL_OBJECT_ZH],
    // 不用再打了
    &[NO_NEED_ZH, AGAIN_ZH, CALL_ZH],
    &[NO_NEED_ZH, AGAIN_ZH, &["打"], CALL_OBJECT_ZH],
    &[NO_NEED_ZH, &["回访"]],
    // 删除我的号码 / 把我的号码删掉 / 把我从名单里删掉
    &[ERASE_ZH, MY_NUMBER_ZH],
    &[MY_NUMBER_ZH, ERASE_ZH],
    &[OPT_OUT_WORDS_ZH],
    // stop calling me / stop the calls
    &[STOP_EN, CALLING_EN],
    // (please) don't call me again / do not call — an instruction, so at the start
    // of the clause: "you don't call me back" is a complaint, not a request
    &[&["^"], DONT_EN, CALL_EN, CALL_WHOM_EN],
    // I told you not to call me
    &[NOT_TO_EN, CALL_EN, CALL_WHOM_EN],
    // I don't want any more calls / I don't want you to call me again
    &[DONT_WANT_EN, CALLS_EN],
    &[DONT_WANT_YOU_TO_EN, CALL_EN, CALL_WHOM_EN],
    &[NO_MORE_EN, CALLS_EN],
    // remove me from your list / take my number off / delete my number
    &[REMOVE_EN, ME_EN, LIST_EN],
    &[OPT_OUT_WORDS_EN],
];

/// What may stand between the parts of an opt-out.
#[rustfmt::skip]
const OPT_OUT_GLUE: &[&str] = &[
    "再", "给", "我", "以后", "又", "老", "老是", "总是", "一直", "们", "你", "你们", "来", "这个",
    "这", "这么", "天天", "都", "还", "被", "把", "的", "我的", "从", "里", "也", "请", "了",
    "千万", "再也", "永远", "就", "这种", "这样", "电话", "打",
    //
    "me", "us", "please", "ever", "again", "just", "any", "more", "these", "those", "your", "the",
    "from", "off", "of", "to", "be", "this", "so", "and", "then", "now", "ok", "okay", "oh", "hey",
    "really", "all", "my",
];

// Asking for a person.

#[rustfmt::skip]
const VERBS_ZH: &[&str] = &[
    "要", "找", "转", "转接", "接", "换", "叫", "请", "需要", "想", "想要", "联系", "让", "接通",
];
#[rustfmt::skip]
const PEOPLE_ZH: &[&str] = &[
    "客服", "真人", "工作人员", "接线员", "专员", "坐席", "客服人员", "服务人员", "经理", "主管",
    "领导", "活人", "人工",
];
/// 人工 ("manual") is how a phone menu says "a person": 转人工, 人工服务, 人工客服.
const PERSON_WORDS_ZH: &[&str] = &["人工", "真人客服"];
const ALONE_ZH: &[&str] = &["客服", "真人"];
#[rustfmt::skip]
const VERBS_EN: &[&str] = &[
    "speak", "speaking", "talk", "talking", "connect", "transfer", "put", "get", "give", "want",
    "need", "reach", "chat", "escalate",
];
#[rustfmt::skip]
const PEOPLE_EN: &[&str] = &[
    "agent", "agents", "representative", "representatives", "rep", "operator", "operators", "human",
    "humans", "person", "someone", "somebody", "manager", "supervisor", "advisor", "adviser",
    "employee", "customer service", "customer support", "customer care", "staff member",
];
#[rustfmt::skip]
const ALONE_EN: &[&str] = &[
    "agent", "representative", "rep", "operator", "human", "person", "customer service",
    "customer support", "manager",
];
#[rustfmt::skip]
const PERSON_WORDS_EN: &[&str] = &[
    "real person", "live person", "real human", "actual person", "actual human", "live agent",
    "real agent", "human agent", "human being", "live human",
];

#[rustfmt::skip]
const AGENT: &[Pattern] = &[
    // 转人工 / 人工服务
    &[PERSON_WORDS_ZH],
    // 我要找客服 / 帮我转接工作人员 / 我想跟客服说
    &[VERBS_ZH, PEOPLE_ZH],
    // 客服 (said on its own)
    &[&["^"], ALONE_ZH, &["$"]],
    // let me speak to someone / can I get a human / transfer me to an agent
    &[VERBS_EN, PEOPLE_EN],
    // "agent", "an operator, please"
    &[&["^"], ALONE_EN, &["$"]],
    // is this a real person
    &[PERSON_WORDS_EN],
];

/// What may stand between the parts of a request for a person.
#[rustfmt::skip]
const AGENT_GLUE: &[&str] = &[
    "我", "你", "你们", "给", "帮", "一", "个", "下", "们", "的", "找", "转", "接", "再", "就",
    "直接", "马上", "请", "跟", "和", "说", "讲", "通", "联系", "到", "去", "帮忙", "快",
    //
    "to", "with", "me", "an", "a", "the", "one", "of", "your", "real", "actual", "live", "please",
    "through", "over", "just", "now", "right", "can", "i", "speak", "talk",
];

/// Words that make what follows not a request: "不用转人工", "I don't need an agent".
#[rustfmt::skip]
const AGENT_REFUSALS: &[&str] = &[
    "不", "不要", "不用", "别", "没", "不想", "不需要", "没必要", "无需", "用不着",
    //
    "dont", "do not", "not", "no need", "never", "doesnt", "didnt", "wont",
];
/// Look like [`AGENT_REFUSALS`] but are questions or politeness: "能不能转人工".
#[rustfmt::skip]
const NOT_REFUSALS: &[&str] = &[
    "能不能", "可不可以", "可以不可以", "要不要", "行不行", "是不是", "好不好", "不好意思", "不然",
    "不过",
];
/// How many tokens before a request a refusal still reaches it.
const REFUSAL_REACH: usize = 3;

/// Words that contain a request word but are not one: "人工智能" is AI, and a
/// caller asking for the support line's number wants a number.
const NOT_AGENT: &[&str] = &["人工智能", "客服电话", "客服热线", "人工电话"];

static OPT_OUT_PATTERNS: LazyLock<Patterns> = LazyLock::new(|| Patterns::new(OPT_OUT));
static AGENT_PATTERNS: LazyLock<Patterns> = LazyLock::new(|| Patterns::new(AGENT));
static OPT_OUT_GLUE_WORDS: LazyLock<Phrases<()>> =
    LazyLock::new(|| Phrases::new(&[(OPT_OUT_GLUE, ())]));
static AGENT_GLUE_WORDS: LazyLock<Phrases<()>> =
    LazyLock::new(|| Phrases::new(&[(AGENT_GLUE, ())]));
static REFUSALS: LazyLock<Phrases<bool>> =
    LazyLock::new(|| Phrases::new(&[(AGENT_REFUSALS, true), (NOT_REFUSALS, false)]));
static NOT_AGENT_WORDS: LazyLock<Phrases<()>> = LazyLock::new(|| Phrases::new(&[(NOT_AGENT, ())]));

/// Whether the caller asks never to be called again.
///
/// Errs towards hearing the request: calling someone who asked us to stop is a
/// compliance failure, while ending a survey early only loses one answer. It
/// still needs the request shape ("不要…打电话", "stop calling"), so a caller
/// scoring the call ("不想打分") or complaining ("you never call me back") is not
/// opted out.
pub fn opt_out_request(text: &str) -> bool {
    clauses(text).iter().any(|clause| {
        let toks = tokens(clause);
        !OPT_OUT_PATTERNS
            .starts(&toks, &OPT_OUT_GLUE_WORDS)
            .is_empty()
    })
}

/// Whether the caller asks for a human.
///
/// A caller mentioning staff ("上次客服说…", "your agent was helpful") is not
/// asking for one, and one refusing ("不用转人工", "I don't need an agent") is not
/// either.
pub fn agent_request(text: &str) -> bool {
    clauses(text).iter().any(|clause| {
        let mut toks = tokens(clause);
        for found in NOT_AGENT_WORDS.scan(&toks) {
            for tok in toks.iter_mut().take(found.end).skip(found.start) {
                *tok = "";
            }
        }
        let refusals = REFUSALS.scan(&toks);
        AGENT_PATTERNS
            .starts(&toks, &AGENT_GLUE_WORDS)
            .into_iter()
            .any(|start| !any_between(&refusals, start.saturating_sub(REFUSAL_REACH), start))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::understand::{assert_table, normalise};

    #[test]
    fn a_caller_asking_not_to_be_called_again_is_heard() {
        assert_table(
            &[
                ("不要再给我打电话了", true),
                ("不要再给我打电话了！", true),
                ("别再打了", true),
                ("别打了，烦死了", true),
                ("你们别再打来了", true),
                ("以后不要再联系我了", true),
                ("不要打扰我", true),
                ("以后别打", true),
                ("我不想再接到你们的电话", true),
                ("不用再打了，问题已经解决了", true),
                ("不需要回访", true),
                ("把我的号码删掉", true),
                ("删除我的号码", true),
                ("把我从名单里删掉", true),
                ("拉黑吧", true),
                ("退订", true),
                ("你们这是骚扰电话", true),
                ("Stop calling me!", true),
                ("please stop calling", true),
                ("Stop the calls.", true),
                ("Don't call me again.", true),
                ("do not call", true),
                ("Please don't ever call me again", true),
                ("Never call this number again", true),
                ("Remove me from your list", true),
                ("take me off your calling list", true),
                ("Take my number off.", true),
                ("delete my number", true),
                ("I don't want any more calls", true),
                ("I told you not to call me", true),
                ("I don't want you to call me again", true),
                ("No more calls, please", true),
                ("Unsubscribe", true),
                ("Leave me alone!", true),
                ("不要再打这个号码了", true),
                ("不要再发短信了", true),
                ("请不要再打扰我", true),
                ("put me on the do not call list", true),
            ],
            opt_out_request,
        );
    }

    #[test]
    fn talk_about_calls_is_not_an_opt_out() {
        assert_table(
            &[
                ("", false),
                ("是的", false),
                ("不用了", false),
                ("不想打分", false),
                ("别打分了", false),
                ("我打电话问过了", false),
                ("不要紧，我打电话问过", false),
                ("不用打了", false),
                ("你们客服打电话给我说会处理", false),
                ("No", false),
                ("You never call me back when you promise", false),
                ("Why don't you call me tomorrow", false),
                ("I didn't call about that", false),
                ("Can you call me back later?", false),
                ("I stopped by the branch", false),
                ("I don't want to call you", false),
                ("remember me", false),
                ("stop", false),
                ("take me to the menu", false),
                ("现在不方便，晚点打", false),
                ("call me later", false),
                ("不要挂", false),
            ],
            opt_out_request,
        );
    }

    #[test]
    fn a_caller_asking_for_a_person_is_heard() {
        assert_table(
            &[
                ("转人工", true),
                ("转人工！", true),
                ("人工服务", true),
                ("人工客服", true),
                ("人工", true),
                ("我要找客服", true),
                ("帮我转接一下工作人员", true),
                ("我想跟客服说", true),
                ("给我接真人", true),
                ("客服", true),
                ("我要找你们领导", true),
                ("嗯，那个，转人工吧", true),
                ("不好意思，我要转人工", true),
                ("agent", true),
                ("Agent, please.", true),
                ("An operator please", true),
                ("I want a real person", true),
                ("Can I talk to a real person?", true),
                ("speak to someone", true),
                ("Let me speak to someone", true),
                ("I need to talk to a human", true),
                ("transfer me to an agent", true),
                ("Put me through to customer service", true),
                ("I'd like to speak with a representative", true),
                ("get me a manager", true),
                ("Representative!", true),
                ("能不能转人工", true),
                ("可以转人工吗", true),
                ("人工客服在吗", true),
            ],
            agent_request,
        );
    }

    #[test]
    fn talk_about_staff_is_not_a_request_for_one() {
        assert_table(
            &[
                ("", false),
                ("是的", false),
                ("你们客服说会处理", false),
                ("我找过客服了", false),
                ("我联系了客服", false),
                ("我跟客服说过了", false),
                ("不用转人工", false),
                ("我不需要人工服务", false),
                ("你是人工智能吗", false),
                ("The agent told me it would be fixed", false),
                ("your agent was very helpful", false),
                ("I spoke to someone yesterday", false),
                ("I don't need an agent", false),
                ("no need for an agent", false),
                ("someone called me", false),
                ("it's personal", false),
                ("客服电话是多少", false),
                ("我要客服电话", false),
                ("I already talked to an agent", false),
                ("the representative was rude", false),
                ("talk to you later", false),
            ],
            agent_request,
        );
    }

    #[test]
    fn the_tables_are_written_in_normalised_form() {
        let patterns = OPT_OUT
            .iter()
            .chain(AGENT)
            .flat_map(|p| p.iter())
            .flat_map(|slot| slot.iter());
        let lists = [
            OPT_OUT_GLUE,
            AGENT_GLUE,
            AGENT_REFUSALS,
            NOT_REFUSALS,
            NOT_AGENT,
        ];
        for phrase in patterns.chain(lists.iter().flat_map(|l| l.iter())) {
            if !matches!(*phrase, "^" | "$") {
                assert_eq!(normalise(phrase), *phrase, "table phrase is not normalised");
            }
        }
    }
}
