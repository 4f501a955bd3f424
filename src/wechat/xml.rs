//! WeChat push XML: a size-bounded, DTD-refusing reader for the flat
//! `<xml><Field>value</Field>…</xml>` documents WeChat sends, typed events on
//! top of it, and the passive replies we send back.
//!
//! WeChat bodies are one level deep; nested elements (e.g. `ScanCodeInfo`) are
//! tolerated and skipped. Unknown fields are tolerated. Duplicate top-level
//! fields are refused: an ambiguous document must not reach de-duplication.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::types::{OpenId, SceneStr};

/// Largest document accepted (pushes are a few KiB; compatible mode is ~3x).
pub const MAX_XML_BYTES: usize = 64 * 1024;
const MAX_FIELDS: usize = 64;
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("document larger than {MAX_XML_BYTES} bytes")]
    TooLarge,
    #[error("DTDs and entity declarations are refused")]
    Dtd,
    #[error("malformed XML")]
    Malformed,
    #[error("document too deep or too many fields")]
    Limits,
    #[error("duplicate field")]
    DuplicateField,
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("invalid field {0}")]
    BadField(&'static str),
}

impl XmlError {
    /// Stable reason code for logs and responses.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "xml_too_large",
            Self::Dtd => "xml_dtd",
            Self::Malformed => "malformed_xml",
            Self::Limits => "xml_limits",
            Self::DuplicateField => "xml_duplicate_field",
            Self::MissingField(_) => "xml_missing_field",
            Self::BadField(_) => "xml_bad_field",
        }
    }
}

/// The top-level fields of a `<xml>` document, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    fn require(&self, name: &'static str) -> Result<&str, XmlError> {
        self.get(name).ok_or(XmlError::MissingField(name))
    }
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parse a WeChat XML document into its top-level fields. Never panics.
pub fn parse_fields(input: &[u8]) -> Result<Fields, XmlError> {
    if input.len() > MAX_XML_BYTES {
        return Err(XmlError::TooLarge);
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::Malformed)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_comments = true;

    let mut fields: Vec<(String, String)> = Vec::new();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut current: Option<(String, String)> = None;

    loop {
        let event = reader.read_event().map_err(|_| XmlError::Malformed)?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {
                if depth > 0 && matches!(event, Event::Decl(_)) {
                    return Err(XmlError::Malformed);
                }
            }
            Event::Start(e) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(XmlError::Limits);
                }
                match depth {
                    1 => {
                        if root_seen || e.name().as_ref() != "xml" {
                            return Err(XmlError::Malformed);
                        }
                        root_seen = true;
                    }
                    2 => current = Some((e.name().as_ref().to_owned(), String::new())),
                    _ => {}
                }
            }
            Event::Empty(e) => match depth {
                0 => {
                    if root_seen || e.name().as_ref() != "xml" {
                        return Err(XmlError::Malformed);
                    }
                    root_seen = true;
                }
                1 => push_field(&mut fields, e.name().as_ref().to_owned(), String::new())?,
                _ => {}
            },
            Event::End(_) => {
                if depth == 2
                    && let Some((k, v)) = current.take()
                {
                    push_field(&mut fields, k, v)?;
                }
                depth = depth.checked_sub(1).ok_or(XmlError::Malformed)?;
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                if depth == 2 {
                    if let Some((_, v)) = current.as_mut() {
                        v.push_str(&s);
                    }
                } else if depth < 2 && !s.trim().is_empty() {
                    return Err(XmlError::Malformed);
                }
            }
            Event::CData(c) => {
                if depth == 2 {
                    if let Some((_, v)) = current.as_mut() {
                        v.push_str(&c.into_inner());
                    }
                } else if depth < 2 {
                    return Err(XmlError::Malformed);
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(ch)) => ch,
                    Ok(None) => predefined_entity(&r.into_inner()).ok_or(XmlError::Dtd)?,
                    Err(_) => return Err(XmlError::Malformed),
                };
                if depth == 2 {
                    if let Some((_, v)) = current.as_mut() {
                        v.push(ch);
                    }
                } else if depth < 2 {
                    return Err(XmlError::Malformed);
                }
            }
            Event::Eof => {
                if depth != 0 || !root_seen {
                    return Err(XmlError::Malformed);
                }
                return Ok(Fields(fields));
            }
        }
    }
}

fn push_field(fields: &mut Vec<(String, String)>, k: String, v: String) -> Result<(), XmlError> {
    if fields.len() >= MAX_FIELDS {
        return Err(XmlError::Limits);
    }
    if fields.iter().any(|(name, _)| *name == k) {
        return Err(XmlError::DuplicateField);
    }
    fields.push((k, v));
    Ok(())
}

/// The outer document of an encrypted push: only `Encrypt` is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub to_user: Option<String>,
    pub encrypt: String,
}

impl Envelope {
    pub fn parse(input: &[u8]) -> Result<Self, XmlError> {
        let f = parse_fields(input)?;
        let encrypt = f.require("Encrypt")?.trim().to_owned();
        if encrypt.is_empty() {
            return Err(XmlError::BadField("Encrypt"));
        }
        Ok(Self {
            to_user: f.get("ToUserName").map(str::to_owned),
            encrypt,
        })
    }
}

/// What a push is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A follower scanned a parametric QR code (`EventKey` is the raw scene).
    Scan {
        scene: SceneStr,
        ticket: Option<String>,
    },
    /// A new follower; `scene` is set (with `qrscene_` stripped) when the follow came from a QR code.
    Subscribe {
        scene: Option<SceneStr>,
        ticket: Option<String>,
    },
    Unsubscribe,
    Text {
        content: String,
    },
    /// Delivery report of a template message (`MsgID`, capital D, is the template message id).
    TemplateSendJobFinish {
        msg_id: Option<u64>,
        status: String,
    },
    /// Anything else (images, menus, location …): answered with `success`.
    Other {
        msg_type: String,
        event: Option<String>,
    },
}

impl MessageKind {
    /// Stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Scan { .. } => "scan",
            Self::Subscribe { scene: Some(_), .. } => "subscribe_scan",
            Self::Subscribe { scene: None, .. } => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Text { .. } => "text",
            Self::TemplateSendJobFinish { .. } => "template_send_job_finish",
            Self::Other { .. } => "other",
        }
    }
}

/// A push from WeChat, parsed and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The account's original id (`gh_…`): the `FromUserName` of our reply.
    pub to_user: String,
    /// The member: the `ToUserName` of our reply.
    pub from_user: OpenId,
    /// WeChat's time of the event, unix seconds.
    pub create_time: i64,
    /// `MsgId` of ordinary messages (absent on events).
    pub msg_id: Option<u64>,
    /// `Event` as sent (events only).
    pub event: Option<String>,
    /// `EventKey` as sent (events only; `qrscene_` still attached).
    pub event_key: Option<String>,
    pub kind: MessageKind,
}

fn parse_u64(f: &Fields, name: &'static str) -> Result<Option<u64>, XmlError> {
    f.get(name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| XmlError::BadField(name))
        })
        .transpose()
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_owned)
}

impl InboundMessage {
    /// Parse a plaintext push (or the decrypted inner document).
    pub fn parse(input: &[u8]) -> Result<Self, XmlError> {
        Self::from_fields(&parse_fields(input)?)
    }

    pub fn from_fields(f: &Fields) -> Result<Self, XmlError> {
        let to_user = f.require("ToUserName")?.to_owned();
        let from_user = OpenId::parse(f.require("FromUserName")?.trim())
            .map_err(|_| XmlError::BadField("FromUserName"))?;
        let create_time = f
            .require("CreateTime")?
            .trim()
            .parse::<i64>()
            .map_err(|_| XmlError::BadField("CreateTime"))?;
        let msg_type = f.require("MsgType")?.trim().to_owned();
        let msg_id = parse_u64(f, "MsgId")?;
        let event = non_empty(f.get("Event").map(str::trim));
        let event_key = f.get("EventKey").map(str::to_owned);
        let ticket = non_empty(f.get("Ticket"));

        let kind = match (msg_type.as_str(), event.as_deref()) {
            ("event", Some(ev)) if ev.eq_ignore_ascii_case("SCAN") => {
                match event_key.as_deref().map(SceneStr::parse) {
                    Some(Ok(scene)) => MessageKind::Scan { scene, ticket },
                    _ => MessageKind::Other {
                        msg_type,
                        event: event.clone(),
                    },
                }
            }
            ("event", Some(ev)) if ev.eq_ignore_ascii_case("subscribe") => {
                let scene = event_key
                    .as_deref()
                    .and_then(|k| k.strip_prefix("qrscene_"))
                    .and_then(|s| SceneStr::parse(s).ok());
                MessageKind::Subscribe { scene, ticket }
            }
            ("event", Some(ev)) if ev.eq_ignore_ascii_case("unsubscribe") => {
                MessageKind::Unsubscribe
            }
            ("event", Some(ev)) if ev.eq_ignore_ascii_case("TEMPLATESENDJOBFINISH") => {
                MessageKind::TemplateSendJobFinish {
                    msg_id: parse_u64(f, "MsgID")?,
                    status: f.get("Status").unwrap_or_default().to_owned(),
                }
            }
            ("text", _) => MessageKind::Text {
                content: f.get("Content").unwrap_or_default().to_owned(),
            },
            _ => MessageKind::Other {
                msg_type,
                event: event.clone(),
            },
        };
        Ok(Self {
            to_user,
            from_user,
            create_time,
            msg_id,
            event,
            event_key,
            kind,
        })
    }

    /// The identity of this push across WeChat's resends (which may carry a fresh
    /// timestamp and nonce): `MsgId` for messages, else `FromUserName`, `CreateTime`,
    /// `Event` and `EventKey`; `MsgId` alone has collided in the wild (WxJava#333), so
    /// the sender and time are always part of it. Hex SHA1, safe as a store key.
    pub fn dedup_key(&self) -> String {
        let msg_id = self.msg_id.map(|m| m.to_string()).unwrap_or_default();
        let create_time = self.create_time.to_string();
        let parts: [&str; 6] = [
            &self.to_user,
            self.from_user.as_str(),
            &create_time,
            &msg_id,
            self.event.as_deref().unwrap_or_default(),
            if self.msg_id.is_some() {
                ""
            } else {
                self.event_key.as_deref().unwrap_or_default()
            },
        ];
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        for p in parts {
            // Length-prefixed so that field boundaries cannot be shifted.
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

fn push_cdata(out: &mut String, s: &str) {
    out.push_str("<![CDATA[");
    // "]]>" cannot appear inside CDATA: close and reopen around it.
    out.push_str(&s.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// A passive text reply (plaintext form).
pub fn text_reply(to_openid: &str, from_account: &str, create_time: i64, content: &str) -> String {
    let mut out = String::with_capacity(160 + content.len() + from_account.len());
    out.push_str("<xml><ToUserName>");
    push_cdata(&mut out, to_openid);
    out.push_str("</ToUserName><FromUserName>");
    push_cdata(&mut out, from_account);
    out.push_str("</FromUserName><CreateTime>");
    out.push_str(&create_time.to_string());
    out.push_str("</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>");
    push_cdata(&mut out, content);
    out.push_str("</Content></xml>");
    out
}

/// The encrypted reply envelope (safe and compatible modes).
pub fn encrypted_envelope(
    encrypt: &str,
    msg_signature: &str,
    timestamp: i64,
    nonce: &str,
) -> String {
    let mut out = String::with_capacity(200 + encrypt.len());
    out.push_str("<xml><Encrypt>");
    push_cdata(&mut out, encrypt);
    out.push_str("</Encrypt><MsgSignature>");
    push_cdata(&mut out, msg_signature);
    out.push_str("</MsgSignature><TimeStamp>");
    out.push_str(&timestamp.to_string());
    out.push_str("</TimeStamp><Nonce>");
    push_cdata(&mut out, nonce);
    out.push_str("</Nonce></xml>");
    out
}

/// A push document as WeChat would send it (the sandbox and tests build pushes with it).
pub fn push_document(fields: &[(&str, &str)]) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in fields {
        out.push('<');
        out.push_str(k);
        out.push('>');
        if *k == "CreateTime" || *k == "MsgId" || *k == "MsgID" {
            out.push_str(v);
        } else {
            push_cdata(&mut out, v);
        }
        out.push_str("</");
        out.push_str(k);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const SUBSCRIBE_SCAN: &str = "<xml><ToUserName><![CDATA[toUser]]></ToUserName>\n<FromUserName><![CDATA[FromUser]]></FromUserName>\n<CreateTime>123456789</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[subscribe]]></Event>\n<EventKey><![CDATA[qrscene_123123]]></EventKey>\n<Ticket><![CDATA[TICKET]]></Ticket>\n</xml>";
    const SCAN: &str = "<xml><ToUserName><![CDATA[toUser]]></ToUserName>\n<FromUserName><![CDATA[FromUser]]></FromUserName>\n<CreateTime>123456789</CreateTime>\n<MsgType><![CDATA[event]]></MsgType>\n<Event><![CDATA[SCAN]]></Event>\n<EventKey><![CDATA[SCENE_VALUE]]></EventKey>\n<Ticket><![CDATA[TICKET]]></Ticket>\n</xml>";

    #[test]
    fn subscribe_with_scene() {
        let m = InboundMessage::parse(SUBSCRIBE_SCAN.as_bytes()).unwrap();
        assert_eq!(m.to_user, "toUser");
        assert_eq!(m.from_user.as_str(), "FromUser");
        assert_eq!(m.create_time, 123456789);
        assert_eq!(
            m.kind,
            MessageKind::Subscribe {
                scene: Some(SceneStr::parse("123123").unwrap()),
                ticket: Some("TICKET".into())
            }
        );
        assert_eq!(m.kind.name(), "subscribe_scan");
    }

    #[test]
    fn scan() {
        let m = InboundMessage::parse(SCAN.as_bytes()).unwrap();
        assert_eq!(
            m.kind,
            MessageKind::Scan {
                scene: SceneStr::parse("SCENE_VALUE").unwrap(),
                ticket: Some("TICKET".into())
            }
        );
    }

    #[test]
    fn plain_subscribe_and_unsubscribe() {
        let doc = push_document(&[
            ("ToUserName", "gh_1"),
            ("FromUserName", "o1"),
            ("CreateTime", "1"),
            ("MsgType", "event"),
            ("Event", "subscribe"),
            ("EventKey", ""),
        ]);
        let m = InboundMessage::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            m.kind,
            MessageKind::Subscribe {
                scene: None,
                ticket: None
            }
        );
        let doc = push_document(&[
            ("ToUserName", "gh_1"),
            ("FromUserName", "o1"),
            ("CreateTime", "1"),
            ("MsgType", "event"),
            ("Event", "unsubscribe"),
        ]);
        assert_eq!(
            InboundMessage::parse(doc.as_bytes()).unwrap().kind,
            MessageKind::Unsubscribe
        );
    }

    #[test]
    fn text_and_template_finish_and_other() {
        // wechatpy's decrypted vector: newlines between fields, MsgId, extra AgentID.
        let doc = "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<FromUserName><![CDATA[messense]]></FromUserName>\n<CreateTime>1411525903</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<MsgId>4363689963896700987</MsgId>\n<AgentID>1</AgentID>\n</xml>";
        let m = InboundMessage::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            m.kind,
            MessageKind::Text {
                content: "test".into()
            }
        );
        assert_eq!(m.msg_id, Some(4363689963896700987));
        assert_eq!(m.from_user.as_str(), "messense");

        let doc = "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><FromUserName><![CDATA[oia2TjuEGTNoeX76QEjQNrcURxG8]]></FromUserName><CreateTime>1395658920</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[success]]></Status></xml>";
        let m = InboundMessage::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            m.kind,
            MessageKind::TemplateSendJobFinish {
                msg_id: Some(200163836),
                status: "success".into()
            }
        );
        assert_eq!(m.msg_id, None);

        let doc = "<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>scancode_push</Event><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo></xml>";
        let m = InboundMessage::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            m.kind,
            MessageKind::Other {
                msg_type: "event".into(),
                event: Some("scancode_push".into())
            }
        );
    }

    #[test]
    fn entities_and_char_refs_are_resolved() {
        let doc = "<xml><ToUserName>a&amp;b</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lt;&#20013;&#x6587;&gt;</Content></xml>";
        let m = InboundMessage::parse(doc.as_bytes()).unwrap();
        assert_eq!(m.to_user, "a&b");
        assert_eq!(
            m.kind,
            MessageKind::Text {
                content: "<中文>".into()
            }
        );
    }

    #[test]
    fn bad_documents() {
        let dtd = r#"<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>&xxe;</ToUserName></xml>"#;
        assert_eq!(parse_fields(dtd.as_bytes()).unwrap_err(), XmlError::Dtd);
        let lol = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><a>&lol2;</a></xml>"#;
        assert_eq!(parse_fields(lol.as_bytes()).unwrap_err(), XmlError::Dtd);
        // An undeclared entity reference is refused too.
        assert_eq!(
            parse_fields(b"<xml><a>&xxe;</a></xml>").unwrap_err(),
            XmlError::Dtd
        );
        for bad in [
            &b""[..],
            b"<xml>",
            b"<xml><a>1</b></xml>",
            b"<notxml></notxml>",
            b"<xml></xml><xml></xml>",
            b"text<xml></xml>",
            b"<xml>loose</xml>",
            b"\xff\xfe<xml></xml>",
            b"<xml><a>&#0;</a></xml>",
        ] {
            assert!(
                parse_fields(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse_fields(b"<xml><a>1</a><a>2</a></xml>").unwrap_err(),
            XmlError::DuplicateField
        );
        let deep = format!("<xml>{}{}</xml>", "<a>".repeat(20), "</a>".repeat(20));
        assert_eq!(parse_fields(deep.as_bytes()).unwrap_err(), XmlError::Limits);
        let many: String = (0..100).map(|i| format!("<f{i}>x</f{i}>")).collect();
        assert_eq!(
            parse_fields(format!("<xml>{many}</xml>").as_bytes()).unwrap_err(),
            XmlError::Limits
        );
        let big = format!("<xml><a>{}</a></xml>", "x".repeat(MAX_XML_BYTES));
        assert_eq!(
            parse_fields(big.as_bytes()).unwrap_err(),
            XmlError::TooLarge
        );
        // Required fields and their shapes.
        assert_eq!(
            InboundMessage::parse(b"<xml><ToUserName>a</ToUserName></xml>").unwrap_err(),
            XmlError::MissingField("FromUserName")
        );
        assert_eq!(
            InboundMessage::parse(b"<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName><CreateTime>x</CreateTime><MsgType>text</MsgType></xml>").unwrap_err(),
            XmlError::BadField("CreateTime")
        );
        assert_eq!(
            InboundMessage::parse(b"<xml><ToUserName>a</ToUserName><FromUserName>a b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>").unwrap_err(),
            XmlError::BadField("FromUserName")
        );
    }

    #[test]
    fn envelope() {
        let e = Envelope::parse(b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>").unwrap();
        assert_eq!(e.encrypt, "abc=");
        assert_eq!(e.to_user.as_deref(), Some("gh_1"));
        assert_eq!(
            Envelope::parse(b"<xml><ToUserName>gh</ToUserName></xml>").unwrap_err(),
            XmlError::MissingField("Encrypt")
        );
    }

    #[test]
    fn dedup_key_ignores_transport_and_distinguishes_events() {
        let a = InboundMessage::parse(SCAN.as_bytes()).unwrap();
        let b = InboundMessage::parse(SCAN.replace('\n', "").as_bytes()).unwrap();
        assert_eq!(a.dedup_key(), b.dedup_key());
        let c = InboundMessage::parse(SCAN.replace("SCENE_VALUE", "OTHER").as_bytes()).unwrap();
        assert_ne!(a.dedup_key(), c.dedup_key());
        let d = InboundMessage::parse(SCAN.replace("123456789", "123456790").as_bytes()).unwrap();
        assert_ne!(a.dedup_key(), d.dedup_key());
    }

    #[test]
    fn replies_escape_cdata_terminator() {
        let x = text_reply("o1", "gh_1", 5, "a]]>b\n第二行");
        let f = parse_fields(x.as_bytes()).unwrap();
        assert_eq!(f.get("Content"), Some("a]]>b\n第二行"));
        assert_eq!(f.get("ToUserName"), Some("o1"));
        assert_eq!(f.get("FromUserName"), Some("gh_1"));
        assert_eq!(f.get("MsgType"), Some("text"));
        let e = encrypted_envelope("abc", "sig", 7, "n1");
        let f = parse_fields(e.as_bytes()).unwrap();
        assert_eq!(f.get("Encrypt"), Some("abc"));
        assert_eq!(f.get("TimeStamp"), Some("7"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            let _ = InboundMessage::parse(s.as_bytes());
        }

        #[test]
        fn reply_round_trips(content in "\\PC{0,200}", account in "[a-z_0-9\\]>]{1,20}") {
            let x = text_reply("o1", &account, 1, &content);
            let f = parse_fields(x.as_bytes()).unwrap();
            prop_assert_eq!(f.get("Content"), Some(content.as_str()));
            prop_assert_eq!(f.get("FromUserName"), Some(account.as_str()));
        }
    }
}
