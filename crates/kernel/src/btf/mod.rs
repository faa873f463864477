//! Kernel types from BTF: `/sys/kernel/btf/vmlinux` and each module's split BTF beside it.
//!
//! Scripts name a handful of kernel types (`struct task_struct`, the arguments of one raw
//! tracepoint) out of the ~150,000 vmlinux describes, so [`KernelBtf`] is lazy: opening it
//! maps the file and checks the header; a name lookup walks the record heads once, and only
//! the records a script touches are ever decoded. Module BTF is opened the first time a
//! lookup reaches it.
//!
//! Field offsets come from the running kernel's own BTF, so the programs beetrace builds
//! read the right bytes without CO-RE relocations: the object is compiled for this kernel,
//! loaded at once, and never reused on another one.

mod builder;
mod bytes;
mod raw;
mod spell;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub use builder::BtfBuilder;
/// The `BTF_KIND_*` numbers, for other readers of BTF blobs (the `run` loader).
pub use raw::kind;

use crate::KernelError;
use bytes::Bytes;
use raw::{word, Head, RawBtf};

/// Where the kernel publishes its BTF.
pub const BTF_DIR: &str = "/sys/kernel/btf";

/// A type of vmlinux or of a module. Only meaningful with the [`KernelBtf`] it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeRef {
    /// 0 for vmlinux, `i + 1` for the i-th module (whose ids continue vmlinux's).
    blob: u16,
    id: u32,
}

impl TypeRef {
    /// `void`, the type id 0 of every BTF.
    pub const VOID: TypeRef = TypeRef { blob: 0, id: 0 };

    /// The BTF type id (in vmlinux's id space or the module's split one).
    pub fn id(self) -> u32 {
        self.id
    }
}

/// One decoded type record. Names are empty for anonymous types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfType {
    Void,
    Int {
        name: String,
        size: u32,
        signed: bool,
        /// `char` (BTF's CHAR encoding, or a 1-byte int called `char`).
        is_char: bool,
        is_bool: bool,
    },
    Float {
        name: String,
        size: u32,
    },
    Ptr {
        to: TypeRef,
    },
    Array {
        elem: TypeRef,
        len: u32,
    },
    Struct(Composite),
    Enum {
        name: String,
        size: u32,
        signed: bool,
        values: Vec<(String, i64)>,
    },
    /// A declaration without a definition (`struct foo;`).
    Fwd {
        name: String,
        union: bool,
    },
    Typedef {
        name: String,
        to: TypeRef,
    },
    /// `const`, `volatile`, `restrict` or a type tag: transparent for reading.
    Qualified {
        qualifier: &'static str,
        to: TypeRef,
    },
    Func {
        name: String,
        proto: TypeRef,
    },
    FuncProto {
        ret: TypeRef,
        params: Vec<Param>,
    },
    /// VAR, DATASEC, DECL_TAG: not types a script can hold.
    Other {
        kind: u32,
    },
}

/// A struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite {
    pub name: String,
    pub union: bool,
    pub size: u32,
    pub members: Vec<Member>,
}

/// A member of a struct or union; `name` is empty for an anonymous struct or union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub ty: TypeRef,
    /// Bits from the start of the outermost struct the member was looked up in.
    pub bit_offset: u32,
    /// Width of a bitfield, 0 for ordinary members.
    pub bitfield_size: u32,
}

/// A parameter of a function prototype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: TypeRef,
}

/// Which namespace a name is looked up in (C keeps `struct x` and typedef `x` apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Struct,
    Union,
    Enum,
    Typedef,
    /// Integers and floats (`unsigned int`, `u64` is a typedef).
    Base,
    /// Functions (`FUNC` records).
    Func,
    /// Global variables (`VAR` records): the per-CPU ones, on kernels that describe only
    /// those.
    Var,
}

/// The section whose `VAR`s are per-CPU: their address is an offset into each CPU's area.
const PERCPU_SECTION: &str = ".data..percpu";

/// A kernel global variable that BTF describes (`VAR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelVar {
    /// The `VAR` record's id: what `ld_imm64` with `BPF_PSEUDO_BTF_ID` names.
    pub btf_id: u32,
    /// The variable's type.
    pub ty: TypeRef,
    /// Listed in `.data..percpu`: one copy per CPU, reached through `bpf_per_cpu_ptr` or
    /// `bpf_this_cpu_ptr`.
    pub percpu: bool,
    /// The module that defines it, `None` for vmlinux.
    pub module: Option<String>,
}

/// A raw tracepoint as BTF describes it: `typedef void (*btf_trace_<name>)(void *, args...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTracepoint {
    /// The module that defines it, `None` for vmlinux.
    pub module: Option<String>,
    pub name: String,
    /// The tracepoint's arguments (the `TP_PROTO`), without the leading `void *`.
    pub args: Vec<Param>,
    /// The id of the `btf_trace_<name>` typedef when it is in vmlinux: what a `tp_btf`
    /// program names as its `attach_btf_id` (a module's would need that module's BTF fd).
    pub vmlinux_btf_id: Option<u32>,
}

/// How deeply arrays and anonymous members may nest: far beyond real kernel types, and a
/// bound on the recursion a damaged (cyclic) blob could cause.
const MAX_NESTING: usize = 32;
/// How many structs one member search may open: anonymous members fan out, and a damaged
/// blob could make the search exponential within the nesting bound.
const MAX_VISITS: usize = 4096;

/// The typedef prefix of raw tracepoint prototypes.
const TRACE_PREFIX: &str = "btf_trace_";
/// Functions the kernel defines per tracepoint whose prototypes name the arguments
/// (`btf_trace_*` typedefs leave them unnamed): `__traceiter_<name>` (since 5.10) and
/// `__probestub_<name>` (since 6.7), both `(void *__data, args...)`.
const NAMED_PROTOS: [&str; 2] = ["__traceiter_", "__probestub_"];

struct Module {
    name: String,
    source: ModuleSource,
    blob: OnceLock<Result<RawBtf, String>>,
}

enum ModuleSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// vmlinux BTF plus module BTF, read lazily. See the module documentation.
pub struct KernelBtf {
    path: PathBuf,
    vmlinux: RawBtf,
    modules: Vec<Module>,
    /// Name lookups already answered.
    found: Mutex<HashMap<(String, NameKind), Option<TypeRef>>>,
    /// Member lookups already answered: each decodes its whole struct (`task_struct` has
    /// hundreds of members), and scripts, and editors re-checking them, ask the same ones
    /// again and again.
    members: Mutex<HashMap<(TypeRef, String), Option<Member>>>,
}

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBtf")
            .field("path", &self.path)
            .field("modules", &self.modules.len())
            .finish()
    }
}

impl KernelBtf {
    /// Opens `<dir>/vmlinux` and notes the modules beside it (not read until needed).
    pub fn open(dir: &Path) -> Result<KernelBtf, KernelError> {
        let path = dir.join("vmlinux");
        let data = Bytes::open(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => KernelError::Btf {
                path: path.clone(),
                reason: "not found: this kernel was built without CONFIG_DEBUG_INFO_BTF, \
                         so kernel types are unavailable"
                    .to_string(),
            },
            _ => KernelError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let vmlinux = RawBtf::parse(data, 1, 0).map_err(|reason| KernelError::Btf {
            path: path.clone(),
            reason,
        })?;
        let mut modules: Vec<Module> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name != "vmlinux").then(|| Module {
                    name,
                    source: ModuleSource::File(e.path()),
                    blob: OnceLock::new(),
                })
            })
            .collect();
        modules.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(KernelBtf {
            path,
            vmlinux,
            modules,
            found: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
        })
    }

    /// BTF from memory (tests, [`crate::FakeKernel`]): a base blob and split module blobs.
    pub fn from_bytes(
        vmlinux: Vec<u8>,
        modules: Vec<(String, Vec<u8>)>,
    ) -> Result<KernelBtf, KernelError> {
        let path = PathBuf::from("<memory>/vmlinux");
        let vmlinux =
            RawBtf::parse(Bytes::Owned(vmlinux), 1, 0).map_err(|reason| KernelError::Btf {
                path: path.clone(),
                reason,
            })?;
        let modules = modules
            .into_iter()
            .map(|(name, data)| Module {
                name,
                source: ModuleSource::Bytes(data),
                blob: OnceLock::new(),
            })
            .collect();
        Ok(KernelBtf {
            path,
            vmlinux,
            modules,
            found: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
        })
    }

    fn err(&self, reason: impl Into<String>) -> KernelError {
        KernelError::Btf {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// The names of the modules that have BTF.
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|m| m.name.as_str())
    }

    fn module_blob(&self, i: usize) -> Result<&RawBtf, KernelError> {
        let m = &self.modules[i];
        m.blob
            .get_or_init(|| {
                let data = match &m.source {
                    ModuleSource::File(p) => Bytes::open(p).map_err(|e| e.to_string())?,
                    ModuleSource::Bytes(b) => Bytes::Owned(b.clone()),
                };
                RawBtf::parse(data, self.vmlinux.end_id()?, self.vmlinux.str_len())
            })
            .as_ref()
            .map_err(|e| self.err(format!("module {}: {e}", m.name)))
    }

    /// The blob that holds `r`'s record.
    fn blob(&self, r: TypeRef) -> Result<&RawBtf, KernelError> {
        let base_end = self.vmlinux.end_id().map_err(|e| self.err(e))?;
        if r.blob == 0 || r.id < base_end {
            Ok(&self.vmlinux)
        } else {
            self.module_blob(r.blob as usize - 1)
        }
    }

    /// The string at `off` as seen from blob `blob` (split BTF continues the base's strings).
    fn string(&self, blob: u16, off: u32) -> Result<String, KernelError> {
        let s = if blob == 0 || off < self.vmlinux.str_len() {
            self.vmlinux.own_str(off)
        } else {
            let b = self.module_blob(blob as usize - 1)?;
            b.own_str(off - b.first_str)
        };
        s.map(|s| String::from_utf8_lossy(s).into_owned())
            .ok_or_else(|| self.err(format!("string offset {off} is out of range")))
    }

    /// Decodes the record of `r`.
    pub fn get(&self, r: TypeRef) -> Result<BtfType, KernelError> {
        if r.id == 0 {
            return Ok(BtfType::Void);
        }
        let blob = self.blob(r)?;
        let (head, tail) = blob
            .record(r.id)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.err(format!("type id {} does not exist", r.id)))?;
        // Split BTF refers to vmlinux types by their own ids: those always live in blob 0,
        // so one kernel type has one TypeRef however it was reached.
        let base_end = self.vmlinux.end_id().map_err(|e| self.err(e))?;
        let at = |id: u32| TypeRef {
            blob: if id < base_end { 0 } else { r.blob },
            id,
        };
        let name = self.string(r.blob, head.name_off)?;
        Ok(match head.kind {
            kind::INT => {
                let enc = word(tail, 0) >> 24;
                BtfType::Int {
                    is_char: enc & 2 != 0 || (name == "char" && head.size_or_type == 1),
                    is_bool: enc & 4 != 0,
                    signed: enc & 1 != 0,
                    size: head.size_or_type,
                    name,
                }
            }
            kind::FLOAT => BtfType::Float {
                name,
                size: head.size_or_type,
            },
            kind::PTR => BtfType::Ptr {
                to: at(head.size_or_type),
            },
            kind::ARRAY => BtfType::Array {
                elem: at(word(tail, 0)),
                len: word(tail, 2),
            },
            kind::STRUCT | kind::UNION => {
                let mut members = Vec::with_capacity(head.vlen as usize);
                for i in 0..head.vlen as usize {
                    let raw_off = word(tail, 3 * i + 2);
                    let (bit_offset, bitfield_size) = if head.kind_flag {
                        (raw_off & 0xff_ffff, raw_off >> 24)
                    } else {
                        (raw_off, 0)
                    };
                    members.push(Member {
                        name: self.string(r.blob, word(tail, 3 * i))?,
                        ty: at(word(tail, 3 * i + 1)),
                        bit_offset,
                        bitfield_size,
                    });
                }
                BtfType::Struct(Composite {
                    name,
                    union: head.kind == kind::UNION,
                    size: head.size_or_type,
                    members,
                })
            }
            kind::ENUM | kind::ENUM64 => {
                let wide = head.kind == kind::ENUM64;
                let step = if wide { 3 } else { 2 };
                let mut values = Vec::with_capacity(head.vlen as usize);
                for i in 0..head.vlen as usize {
                    let lo = word(tail, step * i + 1);
                    let v = if wide {
                        (lo as u64 | (word(tail, step * i + 2) as u64) << 32) as i64
                    } else if head.kind_flag {
                        lo as i32 as i64
                    } else {
                        lo as i64
                    };
                    values.push((self.string(r.blob, word(tail, step * i))?, v));
                }
                BtfType::Enum {
                    name,
                    size: head.size_or_type,
                    signed: head.kind_flag,
                    values,
                }
            }
            kind::FWD => BtfType::Fwd {
                name,
                union: head.kind_flag,
            },
            kind::TYPEDEF => BtfType::Typedef {
                name,
                to: at(head.size_or_type),
            },
            kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => BtfType::Qualified {
                qualifier: match head.kind {
                    kind::VOLATILE => "volatile",
                    kind::CONST => "const",
                    kind::RESTRICT => "restrict",
                    _ => "",
                },
                to: at(head.size_or_type),
            },
            kind::FUNC => BtfType::Func {
                name,
                proto: at(head.size_or_type),
            },
            kind::FUNC_PROTO => {
                let mut params = Vec::with_capacity(head.vlen as usize);
                for i in 0..head.vlen as usize {
                    params.push(Param {
                        name: self.string(r.blob, word(tail, 2 * i))?,
                        ty: at(word(tail, 2 * i + 1)),
                    });
                }
                BtfType::FuncProto {
                    ret: at(head.size_or_type),
                    params,
                }
            }
            other => BtfType::Other { kind: other },
        })
    }

    /// `r` with typedefs and qualifiers removed, and its decoded record.
    pub fn resolve(&self, mut r: TypeRef) -> Result<(TypeRef, BtfType), KernelError> {
        // Chains are short; the bound only guards against a damaged, cyclic blob.
        for _ in 0..64 {
            match self.get(r)? {
                BtfType::Typedef { to, .. } | BtfType::Qualified { to, .. } => r = to,
                t => return Ok((r, t)),
            }
        }
        Err(self.err(format!("type id {} is a typedef cycle", r.id)))
    }

    /// The size in bytes of a value of type `r`; `None` for void, functions and
    /// declarations without a definition.
    pub fn size_of(&self, r: TypeRef) -> Result<Option<u32>, KernelError> {
        self.size_at_depth(r, 0)
    }

    fn size_at_depth(&self, r: TypeRef, depth: usize) -> Result<Option<u32>, KernelError> {
        if depth > MAX_NESTING {
            return Err(self.err(format!("type id {} nests too deeply", r.id)));
        }
        Ok(match self.resolve(r)?.1 {
            BtfType::Int { size, .. }
            | BtfType::Float { size, .. }
            | BtfType::Enum { size, .. } => Some(size),
            BtfType::Struct(c) => Some(c.size),
            BtfType::Ptr { .. } => Some(8),
            BtfType::Array { elem, len } => self
                .size_at_depth(elem, depth + 1)?
                .map(|s| s.saturating_mul(len)),
            _ => None,
        })
    }

    /// The type called `name` in namespace `kind`, searched in vmlinux, then in every
    /// module. A definition is preferred over a forward declaration.
    pub fn find(&self, name: &str, kind: NameKind) -> Result<Option<TypeRef>, KernelError> {
        let key = (name.to_string(), kind);
        if let Some(r) = self
            .found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(*r);
        }
        let mut found = self.find_in(0, name, kind)?;
        for i in 0..self.modules.len() {
            if found.is_some() {
                break;
            }
            found = self.find_in(i as u16 + 1, name, kind)?;
        }
        self.found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, found);
        Ok(found)
    }

    fn raw(&self, blob: u16) -> Result<&RawBtf, KernelError> {
        if blob == 0 {
            Ok(&self.vmlinux)
        } else {
            self.module_blob(blob as usize - 1)
        }
    }

    fn find_in(
        &self,
        blob: u16,
        name: &str,
        want: NameKind,
    ) -> Result<Option<TypeRef>, KernelError> {
        let raw = self.raw(blob)?;
        let matches_kind = |h: &Head| match want {
            NameKind::Struct => h.kind == kind::STRUCT,
            NameKind::Union => h.kind == kind::UNION,
            NameKind::Enum => h.kind == kind::ENUM || h.kind == kind::ENUM64,
            NameKind::Typedef => h.kind == kind::TYPEDEF,
            NameKind::Base => h.kind == kind::INT || h.kind == kind::FLOAT,
            NameKind::Func => h.kind == kind::FUNC,
            NameKind::Var => h.kind == kind::VAR,
        };
        let target = name.as_bytes();
        for (id, head) in raw.heads().map_err(|e| self.err(e))? {
            if head.name_off == 0 || !matches_kind(&head) {
                continue;
            }
            if self.name_bytes(raw, blob, head.name_off) == Some(target) {
                return Ok(Some(TypeRef { blob, id }));
            }
        }
        Ok(None)
    }

    /// A name in `raw`'s view of the strings, without allocating.
    fn name_bytes<'a>(&'a self, raw: &'a RawBtf, blob: u16, off: u32) -> Option<&'a [u8]> {
        if blob == 0 || off < self.vmlinux.str_len() {
            self.vmlinux.own_str(off)
        } else {
            raw.own_str(off - raw.first_str)
        }
    }

    /// The member `name` of struct or union `r` (typedefs stripped), looking inside
    /// anonymous struct and union members as C does. `bit_offset` is from the start of `r`.
    pub fn member(&self, r: TypeRef, name: &str) -> Result<Option<Member>, KernelError> {
        let key = (r, name.to_string());
        let cache = || self.members.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = cache().get(&key) {
            return Ok(known.clone());
        }
        let found = self.member_at_depth(r, name, 0, &mut { MAX_VISITS })?;
        cache().insert(key, found.clone());
        Ok(found)
    }

    fn member_at_depth(
        &self,
        r: TypeRef,
        name: &str,
        depth: usize,
        visits: &mut usize,
    ) -> Result<Option<Member>, KernelError> {
        if depth > MAX_NESTING || *visits == 0 {
            return Err(self.err(format!("type id {} nests too deeply", r.id)));
        }
        *visits -= 1;
        let BtfType::Struct(c) = self.resolve(r)?.1 else {
            return Ok(None);
        };
        for m in c.members {
            if m.name == name {
                return Ok(Some(m));
            }
            if m.name.is_empty() {
                if let Some(mut inner) = self.member_at_depth(m.ty, name, depth + 1, visits)? {
                    inner.bit_offset = inner.bit_offset.saturating_add(m.bit_offset);
                    return Ok(Some(inner));
                }
            }
        }
        Ok(None)
    }

    /// Every member name of struct or union `r`, anonymous members flattened (for
    /// "did you mean" hints).
    pub fn member_names(&self, r: TypeRef) -> Result<Vec<String>, KernelError> {
        let mut out = Vec::new();
        self.collect_member_names(r, &mut out, 0, &mut { MAX_VISITS })?;
        Ok(out)
    }

    fn collect_member_names(
        &self,
        r: TypeRef,
        out: &mut Vec<String>,
        depth: usize,
        visits: &mut usize,
    ) -> Result<(), KernelError> {
        if depth > MAX_NESTING || *visits == 0 {
            return Err(self.err(format!("type id {} nests too deeply", r.id)));
        }
        *visits -= 1;
        let BtfType::Struct(c) = self.resolve(r)?.1 else {
            return Ok(());
        };
        for m in c.members {
            if m.name.is_empty() {
                self.collect_member_names(m.ty, out, depth + 1, visits)?;
            } else {
                out.push(m.name);
            }
        }
        Ok(())
    }

    /// The C spelling of `r`: `int`, `char[16]`, `struct task_struct *`, `u64`.
    pub fn c_spelling(&self, r: TypeRef) -> String {
        spell::spell(self, r)
    }

    /// The value of enumerator `name` of any enum, and its enum.
    pub fn enumerator(&self, name: &str) -> Result<Option<(i64, TypeRef)>, KernelError> {
        let raw = &self.vmlinux;
        for (id, head) in raw.heads().map_err(|e| self.err(e))? {
            if head.kind != kind::ENUM && head.kind != kind::ENUM64 {
                continue;
            }
            let r = TypeRef { blob: 0, id };
            if let BtfType::Enum { values, .. } = self.get(r)? {
                if let Some((_, v)) = values.iter().find(|(n, _)| n == name) {
                    return Ok(Some((*v, r)));
                }
            }
        }
        Ok(None)
    }

    /// The module that defines `r`, `None` for vmlinux.
    pub fn module_of(&self, r: TypeRef) -> Option<&str> {
        match r.blob {
            0 => None,
            b => self.modules.get(b as usize - 1).map(|m| m.name.as_str()),
        }
    }

    /// The global variable `name` (vmlinux first, then modules), and whether it is per-CPU.
    pub fn variable(&self, name: &str) -> Result<Option<KernelVar>, KernelError> {
        let Some(r) = self.find(name, NameKind::Var)? else {
            return Ok(None);
        };
        let raw = self.raw(r.blob)?;
        let (head, _) = raw
            .record(r.id)
            .map_err(|e| self.err(e))?
            .ok_or_else(|| self.err(format!("type id {} does not exist", r.id)))?;
        let base_end = self.vmlinux.end_id().map_err(|e| self.err(e))?;
        let ty_id = head.size_or_type;
        let ty = TypeRef {
            blob: if ty_id < base_end { 0 } else { r.blob },
            id: ty_id,
        };
        let mut percpu = false;
        for (id, head) in raw.heads().map_err(|e| self.err(e))? {
            if head.kind != kind::DATASEC
                || self.name_bytes(raw, r.blob, head.name_off) != Some(PERCPU_SECTION.as_bytes())
            {
                continue;
            }
            let (_, tail) = raw
                .record(id)
                .map_err(|e| self.err(e))?
                .ok_or_else(|| self.err(format!("type id {id} does not exist")))?;
            percpu = (0..head.vlen as usize).any(|i| word(tail, 3 * i) == r.id);
            break;
        }
        let module = match r.blob {
            0 => None,
            b => Some(self.modules[b as usize - 1].name.clone()),
        };
        Ok(Some(KernelVar {
            btf_id: r.id,
            ty,
            percpu,
            module,
        }))
    }

    /// The raw tracepoint `name` (in `module`, or in vmlinux and then any module), with its
    /// arguments from the `btf_trace_<name>` prototype.
    pub fn raw_tracepoint(
        &self,
        module: Option<&str>,
        name: &str,
    ) -> Result<Option<RawTracepoint>, KernelError> {
        let typedef = format!("{TRACE_PREFIX}{name}");
        let found = match module {
            Some(m) => match self.modules.iter().position(|x| x.name == m) {
                Some(i) => self.find_in(i as u16 + 1, &typedef, NameKind::Typedef)?,
                None if m == "vmlinux" => self.find_in(0, &typedef, NameKind::Typedef)?,
                None => return Ok(None),
            },
            None => self.find(&typedef, NameKind::Typedef)?,
        };
        let Some(r) = found else {
            return Ok(None);
        };
        let module = match r.blob {
            0 => None,
            b => Some(self.modules[b as usize - 1].name.clone()),
        };
        let mut args = self.trace_args(r)?;
        self.name_args(r.blob, name, &mut args)?;
        Ok(Some(RawTracepoint {
            vmlinux_btf_id: (r.blob == 0).then_some(r.id),
            module,
            name: name.to_string(),
            args,
        }))
    }

    /// Gives the typedef's unnamed arguments the names of a per-tracepoint function's
    /// parameters, when one with the same arity exists; otherwise `arg0`, `arg1`, ...
    fn name_args(&self, blob: u16, name: &str, args: &mut [Param]) -> Result<(), KernelError> {
        for prefix in NAMED_PROTOS {
            let func = format!("{prefix}{name}");
            // vmlinux lookups go through the cache: sema asks once per probe and pass.
            let found = if blob == 0 {
                self.find(&func, NameKind::Func)?
            } else {
                self.find_in(blob, &func, NameKind::Func)?
            };
            let Some(f) = found else {
                continue;
            };
            let BtfType::Func { proto, .. } = self.get(f)? else {
                continue;
            };
            let BtfType::FuncProto { params, .. } = self.resolve(proto)?.1 else {
                continue;
            };
            if params.len() == args.len() + 1 && params.iter().skip(1).all(|p| !p.name.is_empty()) {
                for (a, p) in args.iter_mut().zip(params.into_iter().skip(1)) {
                    a.name = p.name;
                }
                return Ok(());
            }
        }
        for (i, a) in args.iter_mut().enumerate() {
            if a.name.is_empty() {
                a.name = format!("arg{i}");
            }
        }
        Ok(())
    }

    /// typedef → pointer → FUNC_PROTO `(void *, args...)`: the args.
    fn trace_args(&self, typedef: TypeRef) -> Result<Vec<Param>, KernelError> {
        let BtfType::Typedef { to, .. } = self.get(typedef)? else {
            return Err(self.err("btf_trace_ type is not a typedef"));
        };
        let BtfType::Ptr { to } = self.resolve(to)?.1 else {
            return Err(self.err("btf_trace_ typedef is not a function pointer"));
        };
        let BtfType::FuncProto { params, .. } = self.resolve(to)?.1 else {
            return Err(self.err("btf_trace_ typedef is not a function pointer"));
        };
        Ok(params.into_iter().skip(1).collect())
    }

    /// Every raw tracepoint BTF describes, as (module, name), vmlinux first.
    pub fn raw_tracepoints(&self) -> Result<Vec<(Option<String>, String)>, KernelError> {
        let mut out = Vec::new();
        for blob in 0..=self.modules.len() as u16 {
            let raw = self.raw(blob)?;
            let module = (blob > 0).then(|| self.modules[blob as usize - 1].name.clone());
            for (_, head) in raw.heads().map_err(|e| self.err(e))? {
                if head.kind != kind::TYPEDEF {
                    continue;
                }
                let Some(n) = self.name_bytes(raw, blob, head.name_off) else {
                    continue;
                };
                if let Some(rest) = n.strip_prefix(TRACE_PREFIX.as_bytes()) {
                    out.push((module.clone(), String::from_utf8_lossy(rest).into_owned()));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
