//! COMMAND DOCS' argument trees, built from each command's `syntax` string as Redis's
//! documentation writes it (`key value [NX | XX] [EX seconds | PX milliseconds]`,
//! `key [key ...]`, `<LEFT | RIGHT>`), in the shape Redis 7.0 replies with: every
//! argument has a name, a type (`key`, `string`, `integer`, `pure-token`, `oneof`,
//! `block` ...), maybe a token, the flags `optional` / `multiple` / `multiple_token`,
//! and, for `oneof` and `block`, its own arguments. redis-cli 7.2 builds its hints
//! from these trees.
//!
//! Grammar: words separated by spaces; `[...]` is optional, `<...>` required, `|`
//! separates alternatives, `...` repeats what precedes it. A word without lower-case
//! letters is a token (`NX`, `LIMIT`, `*`); a token directly before a value (a
//! placeholder or a `<...>` group) is that value's token. `x [x ...]` is one argument
//! `x` that may repeat.

use crate::resp::ReplyWriter;

/// An argument's type, as COMMAND DOCS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ArgType {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    OneOf,
    Block,
}

impl ArgType {
    fn name(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Key => "key",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::OneOf => "oneof",
            ArgType::Block => "block",
        }
    }
}

/// One argument of a command, or of a `oneof` / `block` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Arg {
    pub name: String,
    pub kind: ArgType,
    /// The literal word that introduces the argument (`EX` before `seconds`).
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    /// The token is repeated with each repetition (`GET pattern [GET pattern ...]`).
    pub multiple_token: bool,
    /// The alternatives of a `oneof`, the parts of a `block`.
    pub args: Vec<Arg>,
}

impl Arg {
    fn new(name: String, kind: ArgType) -> Arg {
        Arg {
            name,
            kind,
            token: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: Vec::new(),
        }
    }

    /// A `oneof` or `block` of `args`, named after them as Redis names such groups
    /// (`nosave_save`).
    fn composite(kind: ArgType, args: Vec<Arg>) -> Arg {
        let names: Vec<&str> = args.iter().map(|a| a.name.as_str()).collect();
        let mut arg = Arg::new(names.join("_"), kind);
        arg.args = args;
        arg
    }

    fn flag_names(&self) -> Vec<&'static str> {
        [
            (self.optional, "optional"),
            (self.multiple, "multiple"),
            (self.multiple_token, "multiple_token"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// Why a syntax string could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SyntaxError(pub &'static str);

/// The argument tree of a command whose arguments read `syntax`. `has_keys` says
/// whether the command takes keys at all: only then are placeholders such as `key`
/// or `destination` typed `key`.
pub(super) fn parse(syntax: &str, has_keys: bool) -> Result<Vec<Arg>, SyntaxError> {
    let lexemes = lex(syntax);
    let mut parser = Parser {
        lexemes: &lexemes,
        pos: 0,
    };
    let alts = parser.alternatives(None)?;
    let compiler = Compiler { has_keys };
    match alts.as_slice() {
        [only] if only.is_empty() => Ok(Vec::new()),
        [only] => Ok(compiler
            .sequence(only)?
            .into_iter()
            .map(|p| p.arg)
            .collect()),
        _ => Ok(vec![compiler.alternatives(&alts)?]),
    }
}

/// Writes `args` as COMMAND DOCS does: an array of maps.
pub(super) fn write_args(out: &mut ReplyWriter, args: &[Arg]) {
    out.array_len(args.len());
    for arg in args {
        let flags = arg.flag_names();
        let composite = matches!(arg.kind, ArgType::OneOf | ArgType::Block);
        let fields = 2
            + usize::from(arg.kind == ArgType::Key)
            + usize::from(arg.token.is_some())
            + usize::from(!flags.is_empty())
            + usize::from(composite);
        out.map_len(fields);
        out.bulk(b"name");
        out.bulk(arg.name.as_bytes());
        out.bulk(b"type");
        out.bulk(arg.kind.name().as_bytes());
        if arg.kind == ArgType::Key {
            // Tier derives one key spec per command, so every key argument is its.
            out.bulk(b"key_spec_index");
            out.integer(0);
        }
        if let Some(token) = &arg.token {
            out.bulk(b"token");
            out.bulk(token.as_bytes());
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            out.set_len(flags.len());
            for flag in flags {
                out.simple(flag);
            }
        }
        if composite {
            out.bulk(b"arguments");
            write_args(out, &arg.args);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lexeme<'a> {
    /// `[` (optional) or `<` (required).
    Open {
        optional: bool,
    },
    Close {
        optional: bool,
    },
    Pipe,
    Ellipsis,
    Word(&'a str),
}

fn lex(syntax: &str) -> Vec<Lexeme<'_>> {
    const PUNCTUATION: &[char] = &['[', ']', '<', '>', '|'];
    let mut lexemes = Vec::new();
    let mut rest = syntax.trim_start();
    while let Some(c) = rest.chars().next() {
        let (lexeme, len) = match c {
            '[' => (Lexeme::Open { optional: true }, 1),
            ']' => (Lexeme::Close { optional: true }, 1),
            '<' => (Lexeme::Open { optional: false }, 1),
            '>' => (Lexeme::Close { optional: false }, 1),
            '|' => (Lexeme::Pipe, 1),
            _ => {
                let len = rest
                    .find(|c: char| c.is_whitespace() || PUNCTUATION.contains(&c))
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                let lexeme = if word == "..." {
                    Lexeme::Ellipsis
                } else {
                    Lexeme::Word(word)
                };
                (lexeme, len)
            }
        };
        lexemes.push(lexeme);
        rest = rest[len..].trim_start();
    }
    lexemes
}

/// The syntax as written: sequences of words, groups and repetitions.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node<'a> {
    Word(&'a str),
    Group {
        optional: bool,
        alts: Vec<Vec<Node<'a>>>,
    },
    Ellipsis,
}

struct Parser<'s, 'a> {
    lexemes: &'s [Lexeme<'a>],
    pos: usize,
}

impl<'a> Parser<'_, 'a> {
    /// Reads alternatives up to the group's closing bracket (`closing`), or to the end
    /// of the string when `closing` is None.
    fn alternatives(&mut self, closing: Option<bool>) -> Result<Vec<Vec<Node<'a>>>, SyntaxError> {
        let mut alts = vec![Vec::new()];
        loop {
            let Some(&lexeme) = self.lexemes.get(self.pos) else {
                if closing.is_some() {
                    return Err(SyntaxError("a group is not closed"));
                }
                break;
            };
            self.pos += 1;
            let current = alts.last_mut().ok_or(SyntaxError("no alternative"))?;
            match lexeme {
                Lexeme::Close { optional } if closing == Some(optional) => break,
                Lexeme::Close { .. } => return Err(SyntaxError("unbalanced brackets")),
                Lexeme::Open { optional } => {
                    let inner = self.alternatives(Some(optional))?;
                    current.push(Node::Group {
                        optional,
                        alts: inner,
                    });
                }
                Lexeme::Pipe => alts.push(Vec::new()),
                Lexeme::Ellipsis => current.push(Node::Ellipsis),
                Lexeme::Word(word) => current.push(Node::Word(word)),
            }
        }
        // The whole of an empty syntax is one empty alternative; nothing else may be.
        if alts.len() + usize::from(closing.is_some()) > 1 && alts.iter().any(Vec::is_empty) {
            return Err(SyntaxError("an empty group or alternative"));
        }
        Ok(alts)
    }
}

/// A compiled argument and the nodes it came from: `start` is its first node (its
/// token, if it has one), `value_start` the first node after the token.
struct Piece {
    arg: Arg,
    start: usize,
    value_start: usize,
    /// A token that stands alone so far, and may still introduce the next value.
    bare_token: bool,
}

struct Compiler {
    has_keys: bool,
}

impl Compiler {
    fn sequence(&self, nodes: &[Node<'_>]) -> Result<Vec<Piece>, SyntaxError> {
        let mut pieces: Vec<Piece> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            match node {
                Node::Word(word) if is_token(word) => {
                    let mut arg = Arg::new(word.to_ascii_lowercase(), ArgType::PureToken);
                    arg.token = Some((*word).to_owned());
                    pieces.push(Piece {
                        arg,
                        start: i,
                        value_start: i,
                        bare_token: true,
                    });
                }
                Node::Word(word) => bind(&mut pieces, self.placeholder(word), i),
                Node::Group {
                    optional: false,
                    alts,
                } => bind(&mut pieces, self.alternatives(alts)?, i),
                Node::Group {
                    optional: true,
                    alts,
                } => {
                    let mut arg = match repeated_body(alts) {
                        Some(body) => match take_repeated(&mut pieces, &nodes[..i], body) {
                            Some(piece) => {
                                pieces.push(piece);
                                continue;
                            }
                            // `[x ...]` with no `x` before it: any number of `x`, even none.
                            None => {
                                let mut arg = self.unit(body)?;
                                arg.multiple = true;
                                arg
                            }
                        },
                        None => self.alternatives(alts)?,
                    };
                    arg.optional = true;
                    pieces.push(Piece {
                        arg,
                        start: i,
                        value_start: i,
                        bare_token: false,
                    });
                }
                Node::Ellipsis => {
                    let last = pieces
                        .last_mut()
                        .ok_or(SyntaxError("... repeats nothing"))?;
                    last.arg.multiple = true;
                    last.bare_token = false;
                }
            }
        }
        Ok(pieces)
    }

    /// One argument for a sequence: its only argument, or a block of them. A block
    /// that starts with a token and a value takes the token (`LIMIT offset count`).
    fn unit(&self, nodes: &[Node<'_>]) -> Result<Arg, SyntaxError> {
        let mut pieces = self.sequence(nodes)?;
        if pieces.len() == 1 {
            if let Some(piece) = pieces.pop() {
                return Ok(piece.arg);
            }
        }
        let hoist = pieces
            .first()
            .is_some_and(|p| p.value_start != p.start && !p.arg.multiple_token);
        let mut args: Vec<Arg> = pieces.into_iter().map(|p| p.arg).collect();
        let token = match args.first_mut() {
            Some(first) if hoist => first.token.take(),
            _ => None,
        };
        let mut block = Arg::composite(ArgType::Block, args);
        if let Some(token) = token {
            block.name = token.to_ascii_lowercase();
            block.token = Some(token);
        }
        Ok(block)
    }

    /// One argument for a group: its only alternative's, or a `oneof`.
    fn alternatives(&self, alts: &[Vec<Node<'_>>]) -> Result<Arg, SyntaxError> {
        match alts {
            [only] => self.unit(only),
            _ => {
                let args = alts
                    .iter()
                    .map(|alt| self.unit(alt))
                    .collect::<Result<_, _>>()?;
                Ok(Arg::composite(ArgType::OneOf, args))
            }
        }
    }

    fn placeholder(&self, name: &str) -> Arg {
        Arg::new(name.to_owned(), placeholder_type(name, self.has_keys))
    }
}

/// A word without lower-case letters is a literal token (`NX`, `LIMIT`, `*`, `~`).
fn is_token(word: &str) -> bool {
    !word.bytes().any(|b| b.is_ascii_lowercase())
}

/// The type Redis gives arguments of this name.
fn placeholder_type(name: &str, has_keys: bool) -> ArgType {
    let is_key = name.ends_with("key") || matches!(name, "destination" | "source" | "dst" | "src");
    match name {
        _ if has_keys && is_key => ArgType::Key,
        "pattern" => ArgType::Pattern,
        _ if name.starts_with("unix-time") => ArgType::UnixTime,
        "count" | "cursor" | "seconds" | "milliseconds" | "offset" | "index" | "start" | "end"
        | "stop" | "numkeys" | "db" | "port" | "increment" | "decrement" | "numreplicas"
        | "limit" | "weight" => ArgType::Integer,
        "score" | "min" | "max" | "timeout" | "latitude" | "longitude" | "radius" | "width"
        | "height" => ArgType::Double,
        _ => ArgType::String,
    }
}

/// Gives a bare token right before `arg` to it (`EX seconds`), and appends it.
fn bind(pieces: &mut Vec<Piece>, mut arg: Arg, i: usize) {
    let mut start = i;
    if let Some(last) = pieces.last() {
        if last.bare_token && last.start + 1 == i {
            arg.token = pieces.pop().and_then(|p| p.arg.token);
            if let (ArgType::OneOf | ArgType::Block, Some(token)) = (arg.kind, &arg.token) {
                // A group is known by the token that introduces it (`FILTERBY`).
                arg.name = token.to_ascii_lowercase();
            }
            start = i - 1;
        }
    }
    pieces.push(Piece {
        arg,
        start,
        value_start: i,
        bare_token: false,
    });
}

/// The repeated part of `[x ...]`.
fn repeated_body<'n, 'a>(alts: &'n [Vec<Node<'a>>]) -> Option<&'n [Node<'a>]> {
    match alts {
        [only] => match only.split_last() {
            Some((Node::Ellipsis, body)) if !body.is_empty() => Some(body),
            _ => None,
        },
        _ => None,
    }
}

/// For `x [x ...]`: finds the pieces that compiled `x` right before the group (whose
/// nodes end `before`) and makes them one argument that repeats. A token before `x`
/// is repeated too when the body names it (`GET pattern [GET pattern ...]`), else it
/// is said once (`STREAMS key [key ...]`).
fn take_repeated(pieces: &mut Vec<Piece>, before: &[Node<'_>], body: &[Node<'_>]) -> Option<Piece> {
    for m in 1..=pieces.len() {
        let first = &pieces[pieces.len() - m];
        let with_token = before.get(first.start..) == Some(body);
        let after_token =
            first.value_start != first.start && before.get(first.value_start..) == Some(body);
        if !with_token && !after_token {
            continue;
        }
        let mut group = pieces.split_off(pieces.len() - m);
        let (start, value_start) = (group[0].start, group[0].value_start);
        let mut piece = if m == 1 {
            let mut piece = group.pop()?;
            piece.arg.multiple_token = with_token && piece.arg.token.is_some();
            piece
        } else {
            let token = if with_token {
                None
            } else {
                group[0].arg.token.take()
            };
            let mut block =
                Arg::composite(ArgType::Block, group.into_iter().map(|p| p.arg).collect());
            if let Some(token) = token {
                block.name = token.to_ascii_lowercase();
                block.token = Some(token);
            }
            Piece {
                arg: block,
                start,
                value_start: start,
                bare_token: false,
            }
        };
        piece.arg.multiple = true;
        piece.value_start = if m == 1 { value_start } else { start };
        return Some(piece);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(name: &str, kind: ArgType) -> Arg {
        Arg::new(name.to_owned(), kind)
    }

    fn token(name: &str, token: &str, kind: ArgType) -> Arg {
        let mut a = arg(name, kind);
        a.token = Some(token.to_owned());
        a
    }

    fn pure(tok: &str) -> Arg {
        token(&tok.to_ascii_lowercase(), tok, ArgType::PureToken)
    }

    fn optional(mut a: Arg) -> Arg {
        a.optional = true;
        a
    }

    fn multiple(mut a: Arg) -> Arg {
        a.multiple = true;
        a
    }

    fn composite(name: &str, kind: ArgType, args: Vec<Arg>) -> Arg {
        let mut a = arg(name, kind);
        a.args = args;
        a
    }

    /// A choice between pure tokens.
    fn one_of(name: &str, tokens: &[&str]) -> Arg {
        composite(
            name,
            ArgType::OneOf,
            tokens.iter().map(|t| pure(t)).collect(),
        )
    }

    #[test]
    fn empty_syntax_has_no_arguments() {
        assert_eq!(parse("", true), Ok(vec![]));
        assert_eq!(parse("   ", false), Ok(vec![]));
    }

    #[test]
    fn get_is_one_key() {
        assert_eq!(parse("key", true), Ok(vec![arg("key", ArgType::Key)]));
        // A command without keys has no key arguments.
        assert_eq!(parse("key", false), Ok(vec![arg("key", ArgType::String)]));
    }

    #[test]
    fn set_matches_redis() {
        let got = parse(
            "key value [NX | XX] [GET] [EX seconds | PX milliseconds | \
             EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
            true,
        );
        let want = vec![
            arg("key", ArgType::Key),
            arg("value", ArgType::String),
            optional(one_of("nx_xx", &["NX", "XX"])),
            optional(pure("GET")),
            optional(composite(
                "seconds_milliseconds_unix-time-seconds_unix-time-milliseconds_keepttl",
                ArgType::OneOf,
                vec![
                    token("seconds", "EX", ArgType::Integer),
                    token("milliseconds", "PX", ArgType::Integer),
                    token("unix-time-seconds", "EXAT", ArgType::UnixTime),
                    token("unix-time-milliseconds", "PXAT", ArgType::UnixTime),
                    pure("KEEPTTL"),
                ],
            )),
        ];
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn scan_matches_redis() {
        let got = parse("cursor [MATCH pattern] [COUNT count] [TYPE type]", false);
        let want = vec![
            arg("cursor", ArgType::Integer),
            optional(token("pattern", "MATCH", ArgType::Pattern)),
            optional(token("count", "COUNT", ArgType::Integer)),
            optional(token("type", "TYPE", ArgType::String)),
        ];
        assert_eq!(got, Ok(want));
    }

    #[test]
    fn repetitions() {
        assert_eq!(
            parse("key [key ...]", true),
            Ok(vec![multiple(arg("key", ArgType::Key))])
        );
        assert_eq!(
            parse("[section [section ...]]", false),
            Ok(vec![optional(multiple(arg("section", ArgType::String)))])
        );
        assert_eq!(
            parse("key field value [field value ...]", true),
            Ok(vec![
                arg("key", ArgType::Key),
                multiple(composite(
                    "field_value",
                    ArgType::Block,
                    vec![arg("field", ArgType::String), arg("value", ArgType::String)]
                )),
            ])
        );
        // `[x ...]` alone, and a bare `...`.
        assert_eq!(
            parse("[key ...]", true),
            Ok(vec![optional(multiple(arg("key", ArgType::Key)))])
        );
        assert_eq!(
            parse("member ...", false),
            Ok(vec![multiple(arg("member", ArgType::String))])
        );
    }

    #[test]
    fn tokens_with_repetitions() {
        // The token is said once.
        assert_eq!(
            parse("[COUNT count] STREAMS key [key ...] id [id ...]", true),
            Ok(vec![
                optional(token("count", "COUNT", ArgType::Integer)),
                multiple(token("key", "STREAMS", ArgType::Key)),
                multiple(arg("id", ArgType::String)),
            ])
        );
        assert_eq!(
            parse("[WEIGHTS weight [weight ...]]", false),
            Ok(vec![optional(multiple(token(
                "weight",
                "WEIGHTS",
                ArgType::Integer
            )))])
        );
        // The token comes back with every repetition.
        let mut get = optional(multiple(token("pattern", "GET", ArgType::Pattern)));
        get.multiple_token = true;
        assert_eq!(
            parse("[GET pattern [GET pattern ...]]", true),
            Ok(vec![get])
        );
    }

    #[test]
    fn blocks_take_their_leading_token() {
        let mut limit = optional(composite(
            "limit",
            ArgType::Block,
            vec![
                arg("offset", ArgType::Integer),
                arg("count", ArgType::Integer),
            ],
        ));
        limit.token = Some("LIMIT".to_owned());
        assert_eq!(parse("[LIMIT offset count]", false), Ok(vec![limit]));
        let mut count = optional(composite(
            "count",
            ArgType::Block,
            vec![arg("count", ArgType::Integer), optional(pure("ANY"))],
        ));
        count.token = Some("COUNT".to_owned());
        assert_eq!(parse("[COUNT count [ANY]]", false), Ok(vec![count]));
    }

    #[test]
    fn required_groups_and_tokens_before_them() {
        assert_eq!(
            parse("source destination <LEFT | RIGHT> <LEFT | RIGHT>", true),
            Ok(vec![
                arg("source", ArgType::Key),
                arg("destination", ArgType::Key),
                one_of("left_right", &["LEFT", "RIGHT"]),
                one_of("left_right", &["LEFT", "RIGHT"]),
            ])
        );
        let mut filter = optional(composite(
            "filterby",
            ArgType::OneOf,
            vec![
                token("module-name", "MODULE", ArgType::String),
                token("category", "ACLCAT", ArgType::String),
                token("pattern", "PATTERN", ArgType::Pattern),
            ],
        ));
        filter.token = Some("FILTERBY".to_owned());
        assert_eq!(
            parse(
                "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]",
                false
            ),
            Ok(vec![filter])
        );
    }

    #[test]
    fn shutdown_matches_redis() {
        assert_eq!(
            parse("[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]", false),
            Ok(vec![
                optional(one_of("nosave_save", &["NOSAVE", "SAVE"])),
                optional(pure("NOW")),
                optional(pure("FORCE")),
                optional(pure("ABORT")),
            ])
        );
    }

    #[test]
    fn malformed_syntax_is_an_error() {
        for bad in [
            "[key", "key]", "<a | b]", "[a | ]", "[]", "... key", "a | | b",
        ] {
            assert!(parse(bad, true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_command_of_the_table_parses() {
        fn check(spec: &crate::cmd::table::CommandSpec) {
            let parsed = parse(spec.syntax, spec.keys.has_keys());
            assert!(
                parsed.is_ok(),
                "{}: {:?} {parsed:?}",
                spec.name,
                spec.syntax
            );
            spec.subcommands.iter().for_each(check);
        }
        crate::cmd::table::commands()
            .values()
            .for_each(|spec| check(spec));
    }

    #[test]
    fn replies_as_redis() {
        let mut out = ReplyWriter::new(crate::resp::Protocol::Resp2);
        write_args(
            &mut out,
            &parse("key [MATCH pattern]", true).unwrap_or_default(),
        );
        let want = "*2\r\n\
            *6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n\
            *8\r\n$4\r\nname\r\n$7\r\npattern\r\n$4\r\ntype\r\n$7\r\npattern\r\n\
            $5\r\ntoken\r\n$5\r\nMATCH\r\n$5\r\nflags\r\n*1\r\n+optional\r\n";
        assert_eq!(String::from_utf8_lossy(&out.out), want);
    }
}
