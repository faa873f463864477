//! The language server (`beetrace lsp`): the stages the command line runs, offered to
//! editors over the Language Server Protocol on stdio.
//!
//! The protocol's transport and types are `lsp-server` and `lsp-types` (rust-analyzer's);
//! this crate only answers. Each change of a document re-runs `syntax::parse`,
//! `sema::analyze` (noting every expression's type) and `codegen::compile`, and publishes
//! their diagnostics as the command line renders them; completion, hover, definitions and
//! symbols read the tree and the types of the latest run, and the running kernel
//! (tracepoint lists through tracefs, types through BTF, both read once and kept).
//!
//! Invariant: no second checker. Everything said about a script comes from the pipeline's
//! own crates; this crate converts positions and shapes answers.

mod builtins;
mod completion;
mod diagnostics;
mod document;
mod hover;
mod navigate;
mod position;
mod scope;
mod walk;

use std::cell::OnceCell;
use std::collections::HashMap;

use kernel::KernelInfo;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument,
    Notification as NotificationTrait, PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    Request as RequestTrait,
};
use lsp_types::{
    CompletionOptions, CompletionResponse, DocumentSymbolResponse, GotoDefinitionResponse,
    Location, OneOf, PublishDiagnosticsParams, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri,
};

use document::Document;

/// Why a session ended other than by `shutdown` and `exit`.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the initialize handshake failed")]
    Initialize(#[source] lsp_server::ProtocolError),
    #[error("the shutdown handshake failed")]
    Shutdown(#[source] lsp_server::ProtocolError),
    #[error("exit without shutdown")]
    ExitWithoutShutdown,
    #[error("the client closed the connection without shutdown")]
    Closed,
    #[error("the client went away")]
    Disconnected,
    #[error("closing stdio")]
    Io(#[source] std::io::Error),
}

/// Serves one client on stdin/stdout until it sends `shutdown` and `exit`.
pub fn run_stdio() -> Result<(), ServerError> {
    let (connection, io_threads) = Connection::stdio();
    serve(&connection, open_kernel())?;
    drop(connection);
    io_threads.join().map_err(ServerError::Io)
}

/// The running kernel's tracefs (found, or mounted as the command line does). When there is
/// none the server still runs: probes then fail to resolve, as they would on the command
/// line.
fn open_kernel() -> Box<dyn KernelInfo> {
    match kernel::Tracefs::open() {
        Ok(tracefs) => Box::new(tracefs),
        Err(e) => {
            eprintln!("beetrace lsp: {e}; tracepoints will not resolve");
            Box::new(kernel::Tracefs::at("/sys/kernel/tracing"))
        }
    }
}

/// The kernel, with the lists completion needs read at most once per session.
pub struct Kernel {
    info: Box<dyn KernelInfo>,
    tracepoints: OnceCell<Vec<(String, String)>>,
    raw_tracepoints: OnceCell<Vec<(Option<String>, String)>>,
}

impl Kernel {
    pub fn new(info: Box<dyn KernelInfo>) -> Kernel {
        Kernel {
            info,
            tracepoints: OnceCell::new(),
            raw_tracepoints: OnceCell::new(),
        }
    }

    pub fn info(&self) -> &dyn KernelInfo {
        self.info.as_ref()
    }

    fn tracepoints(&self) -> &[(String, String)] {
        self.tracepoints
            .get_or_init(|| self.info.tracepoints().unwrap_or_default())
    }

    fn raw_tracepoints(&self) -> &[(Option<String>, String)] {
        self.raw_tracepoints.get_or_init(|| {
            let mut all = self
                .info
                .btf()
                .and_then(|btf| btf.raw_tracepoints())
                .unwrap_or_default();
            all.sort_by(|a, b| a.1.cmp(&b.1));
            all.dedup_by(|a, b| a.1 == b.1);
            all
        })
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(
                [":", ".", ">", "$", "@"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// The session: the `initialize` handshake, then requests and notifications until
/// `shutdown`.
pub fn serve(connection: &Connection, kernel: Box<dyn KernelInfo>) -> Result<(), ServerError> {
    let caps = serde_json::to_value(capabilities()).expect("capabilities serialize to JSON");
    connection
        .initialize(caps)
        .map_err(ServerError::Initialize)?;
    let mut server = Server {
        kernel: Kernel::new(kernel),
        docs: HashMap::new(),
    };
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection
                    .handle_shutdown(&req)
                    .map_err(ServerError::Shutdown)?
                {
                    return Ok(());
                }
                let response = server.request(req);
                send(connection, response.into())?;
            }
            Message::Notification(n) if n.method == "exit" => {
                // `exit` without `shutdown` first: the protocol asks for status 1.
                return Err(ServerError::ExitWithoutShutdown);
            }
            Message::Notification(n) => {
                for out in server.notification(n) {
                    send(connection, out.into())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Err(ServerError::Closed)
}

fn send(connection: &Connection, msg: Message) -> Result<(), ServerError> {
    connection
        .sender
        .send(msg)
        .map_err(|_| ServerError::Disconnected)
}

struct Server {
    kernel: Kernel,
    docs: HashMap<Uri, Document>,
}

impl Server {
    /// Document changes; returns the diagnostics to publish.
    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        let uri = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) =
                    n.extract::<lsp_types::DidOpenTextDocumentParams>(DidOpenTextDocument::METHOD)
                else {
                    return Vec::new();
                };
                let doc = Document::new(p.text_document.text, self.kernel.info());
                self.docs.insert(p.text_document.uri.clone(), doc);
                p.text_document.uri
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = n.extract::<lsp_types::DidChangeTextDocumentParams>(
                    DidChangeTextDocument::METHOD,
                ) else {
                    return Vec::new();
                };
                // Full sync: the last change holds the whole text.
                let Some(change) = p.content_changes.into_iter().last() else {
                    return Vec::new();
                };
                let doc = Document::new(change.text, self.kernel.info());
                self.docs.insert(p.text_document.uri.clone(), doc);
                p.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    n.extract::<lsp_types::DidCloseTextDocumentParams>(DidCloseTextDocument::METHOD)
                {
                    self.docs.remove(&p.text_document.uri);
                    // Clear what was shown for the closed document.
                    return vec![publish(p.text_document.uri, Vec::new())];
                }
                return Vec::new();
            }
            _ => return Vec::new(),
        };
        let diagnostics = self
            .docs
            .get(&uri)
            .map(diagnostics::to_lsp)
            .unwrap_or_default();
        vec![publish(uri, diagnostics)]
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            Completion::METHOD => self.with_position::<Completion>(req, |s, _, doc, offset| {
                let items = completion::complete(doc, &s.kernel, offset);
                Some(CompletionResponse::Array(items))
            }),
            HoverRequest::METHOD => self.with_position::<HoverRequest>(req, |s, _, doc, offset| {
                hover::hover(doc, s.kernel.info(), offset)
            }),
            GotoDefinition::METHOD => {
                self.with_position::<GotoDefinition>(req, |_, uri, doc, offset| {
                    let span = navigate::definition(doc, offset)?;
                    Some(GotoDefinitionResponse::Scalar(Location {
                        uri: uri.clone(),
                        range: doc.index.range(&doc.text, span),
                    }))
                })
            }
            DocumentSymbolRequest::METHOD => req
                .extract::<lsp_types::DocumentSymbolParams>(DocumentSymbolRequest::METHOD)
                .map_err(|e| format!("{e:?}"))
                .map(|(_, p)| {
                    let symbols = self
                        .docs
                        .get(&p.text_document.uri)
                        .map(navigate::symbols)
                        .unwrap_or_default();
                    serde_json::to_value(DocumentSymbolResponse::Nested(symbols))
                        .unwrap_or_default()
                }),
            Formatting::METHOD => req
                .extract::<lsp_types::DocumentFormattingParams>(Formatting::METHOD)
                .map_err(|e| format!("{e:?}"))
                .map(|(_, p)| {
                    let edits = self.docs.get(&p.text_document.uri).and_then(format_edits);
                    serde_json::to_value(edits).unwrap_or_default()
                }),
            _ => Err(format!("unsupported request {}", req.method)),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
        }
    }

    /// Runs `answer` for a request made at a position of an open document.
    fn with_position<R>(
        &self,
        req: Request,
        answer: impl FnOnce(&Server, &Uri, &Document, usize) -> R::Result,
    ) -> Result<serde_json::Value, String>
    where
        R: RequestTrait,
        R::Params: serde::de::DeserializeOwned + HasPosition,
        R::Result: serde::Serialize,
    {
        let (_, params) = req
            .extract::<R::Params>(R::METHOD)
            .map_err(|e| format!("{e:?}"))?;
        let (uri, pos) = params.position();
        let Some(doc) = self.docs.get(uri) else {
            return Ok(serde_json::Value::Null);
        };
        let offset = doc.index.offset(&doc.text, pos);
        let answer = answer(self, uri, doc, offset);
        serde_json::to_value(answer).map_err(|e| e.to_string())
    }
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Notification {
    Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    )
}

/// The whole document replaced by its formatted text; `None` (no edit) when it does not
/// parse, so a half-typed script is never touched.
fn format_edits(doc: &Document) -> Option<Vec<TextEdit>> {
    let formatted = syntax::format::format(&doc.text).ok()?;
    if formatted == doc.text {
        return Some(Vec::new());
    }
    let whole = syntax::Span::new(0, doc.text.len());
    Some(vec![TextEdit {
        range: doc.index.range(&doc.text, whole),
        new_text: formatted,
    }])
}

/// Requests made at a position in a document.
trait HasPosition {
    fn position(&self) -> (&Uri, lsp_types::Position);
}

impl HasPosition for lsp_types::CompletionParams {
    fn position(&self) -> (&Uri, lsp_types::Position) {
        let p = &self.text_document_position;
        (&p.text_document.uri, p.position)
    }
}

impl HasPosition for lsp_types::HoverParams {
    fn position(&self) -> (&Uri, lsp_types::Position) {
        let p = &self.text_document_position_params;
        (&p.text_document.uri, p.position)
    }
}

impl HasPosition for lsp_types::GotoDefinitionParams {
    fn position(&self) -> (&Uri, lsp_types::Position) {
        let p = &self.text_document_position_params;
        (&p.text_document.uri, p.position)
    }
}
