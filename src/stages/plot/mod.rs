//! `plot`: the study's figures as PNG and SVG files, drawn from upstream tables.
//!
//! `figures:` lists figures; each is one variant of [`FigureSpec`], tagged by `type`, with
//! its own options struct in its own file (`deny_unknown_fields`, so an option another
//! figure type has is an error at its file:line:col), beside the options all types have
//! ([`Common`]). Every figure names the input role it reads (`from`) and a file name; the artifact holds `NAME.png` / `NAME.svg` and a table
//! `figures` (name, type, title, files, caption) that the `report` stage reads.

mod bars;
mod depth;
mod fit;
mod heatmap;
mod job;
mod optimizers;
mod train_size;
mod tsne;

use std::sync::Arc;

use anyhow::{bail, Result};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use serde::de::{self, Visitor};
use serde::{ser, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::evidence::Evidence;
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::viz::Format;
use job::Job;

const fn role(name: &'static str) -> Role {
    Role {
        name,
        many: true,
        required: false,
    }
}

/// Input roles a figure can read (`from:`); each takes one or more stages.
const ROLES: &[Role] = &[
    role("curves"),
    role("size"),
    role("fit"),
    role("compare"),
    role("models"),
    role("sweep"),
    role("tsne"),
    // `evaluate` stages: 95% intervals over test questions for the accuracy whiskers.
    role("evidence"),
];

pub const KIND: Kind = Kind {
    name: "plot",
    // 3: `figures` is one options struct per figure type; legends placed from the data,
    // measured-size ticks, shared y axes, data-fitted heatmap scale, captions with n.
    version: 3,
    summary: "the study's figures (PNG + SVG) from curves, sweep and t-SNE tables",
    inputs: ROLES,
    build: build_with::<Params>,
};

/// One figure to draw: `type:` picks the variant, the rest are that type's options.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FigureSpec {
    /// 2x2: epoch and time against training loss and test accuracy, per optimizer.
    Optimizers(optimizers::Options),
    /// Training loss; train vs test accuracy (over- and underfitting), a row per input.
    Fit(fit::Options),
    /// Training-set size against final test accuracy.
    TrainSize(train_size::Options),
    /// Parameter grid (e.g. hidden size x learning rate) with values written in.
    Heatmap(heatmap::Options),
    /// Optimizer paths in the t-SNE map.
    Tsne(tsne::Options),
    /// Final test accuracy per optimizer, one bar per input (e.g. TF-IDF vs E5).
    Bars(bars::Options),
    /// One architecture per input: loss and test accuracy per optimizer.
    Depth(depth::Options),
}

/// One entry of `figures:`: the options every figure type has, and the type's own.
#[derive(Debug, Clone)]
pub struct FigureDecl {
    pub common: Common,
    pub spec: FigureSpec,
}

/// The options every figure type has, declared once. In the YAML they sit beside the
/// type's own options; [`FigureDecl`]'s serde impls split and join the two. (serde's `flatten`
/// would do it, but a struct that flattens loses `deny_unknown_fields`' list of known
/// options, which the error's help shows.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    /// File stem: NAME.png, NAME.svg.
    pub name: String,
    /// Input role to read.
    pub from: String,
    /// Heading (default: the figure type's).
    #[serde(default)]
    pub title: Option<String>,
    /// Optimizers to show, in this order (default: all, as they appear).
    #[serde(default)]
    pub optimizers: Option<Vec<String>>,
}

impl Serialize for FigureDecl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = object(&self.common).map_err(ser::Error::custom)?;
        map.extend(object(&self.spec).map_err(ser::Error::custom)?);
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for FigureDecl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut own = JsonMap::deserialize(d)?;
        let common_fields = fields_of::<Common>();
        let common: JsonMap = common_fields
            .iter()
            .filter_map(|f| own.remove_entry(*f))
            .collect();
        let common = Common::deserialize(Value::Object(common)).map_err(de::Error::custom)?;
        let spec = FigureSpec::deserialize(Value::Object(own)).map_err(|e| {
            // The type's struct knows only its own options: name the common ones too.
            let msg = e.to_string();
            let unknown = msg
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next());
            match unknown {
                Some(name) => {
                    let own_fields = msg.split_once("expected ").map_or(Vec::new(), |(_, l)| {
                        l.split('`').skip(1).step_by(2).collect()
                    });
                    let known: Vec<String> = common_fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .chain(own_fields.iter().map(|f| format!("`{f}`")))
                        .collect();
                    de::Error::custom(format!(
                        "unknown field `{name}`, expected one of {}",
                        known.join(", ")
                    ))
                }
                None => de::Error::custom(msg),
            }
        })?;
        Ok(FigureDecl { common, spec })
    }
}

type JsonMap = serde_json::Map<String, Value>;

fn object<T: Serialize>(v: &T) -> serde_json::Result<JsonMap> {
    match serde_json::to_value(v)? {
        Value::Object(m) => Ok(m),
        other => Err(ser::Error::custom(format!("expected a map, got {other}"))),
    }
}

/// The field names a derived `Deserialize` struct asks for (serde passes them to
/// `deserialize_struct`; this deserializer records them and stops).
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// A drawn figure: its files and the caption saying what its marks mean, with n.
pub(crate) struct Drawn {
    pub title: String,
    pub caption: String,
    pub files: Vec<(Format, Vec<u8>)>,
}

impl FigureSpec {
    fn type_name(&self) -> &'static str {
        match self {
            FigureSpec::Optimizers(_) => "optimizers",
            FigureSpec::Fit(_) => "fit",
            FigureSpec::TrainSize(_) => "train_size",
            FigureSpec::Heatmap(_) => "heatmap",
            FigureSpec::Tsne(_) => "tsne",
            FigureSpec::Bars(_) => "bars",
            FigureSpec::Depth(_) => "depth",
        }
    }

    fn draw(&self, job: &Job<'_>) -> Result<Drawn> {
        match self {
            FigureSpec::Optimizers(o) => o.draw(job),
            FigureSpec::Fit(o) => o.draw(job),
            FigureSpec::TrainSize(o) => o.draw(job),
            FigureSpec::Heatmap(o) => o.draw(job),
            FigureSpec::Tsne(o) => o.draw(job),
            FigureSpec::Bars(o) => o.draw(job),
            FigureSpec::Depth(o) => o.draw(job),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatParam {
    Png,
    Svg,
}

impl FormatParam {
    fn format(self) -> Format {
        match self {
            FormatParam::Png => Format::Png,
            FormatParam::Svg => Format::Svg,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub figures: Vec<FigureDecl>,
    #[serde(default = "both")]
    pub formats: Vec<FormatParam>,
}

fn both() -> Vec<FormatParam> {
    vec![FormatParam::Png, FormatParam::Svg]
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        if self.figures.is_empty() {
            return Err(cx.error("figures", "`figures` is empty: list the figures to draw"));
        }
        if self.formats.is_empty() {
            return Err(cx.error(
                "formats",
                "`formats` is empty: use [png], [svg] or [png, svg]",
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, f) in self.figures.iter().enumerate() {
            let c = &f.common;
            let name = c.name.as_str();
            let ok_name = !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
            if !ok_name {
                return Err(cx
                    .error(
                        &format!("figures[{i}].name"),
                        format!("figure name `{}` is not a plain file name", c.name),
                    )
                    .help("use letters, digits, `_` and `-`"));
            }
            if seen.contains(&name) {
                return Err(cx.error(
                    &format!("figures[{i}].name"),
                    format!("two figures are named `{}`", c.name),
                ));
            }
            seen.push(name);
            if !ROLES.iter().any(|r| r.name == c.from) {
                let roles: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
                return Err(cx
                    .error(
                        &format!("figures[{i}].from"),
                        format!("unknown input role `{}`", c.from),
                    )
                    .help(format!("roles of `plot`: {}", roles.join(", "))));
            }
        }
        Ok(Box::new(Plot { p: self }))
    }
}

struct Plot {
    p: Params,
}

impl Stage for Plot {
    fn run(&self, cx: &RunCx<'_>, _: &[Arc<Artifact>]) -> Result<Output> {
        let mut out = Output::default();
        let mut names = Vec::new();
        let mut types = Vec::new();
        let mut titles = Vec::new();
        let mut files = Vec::new();
        let mut captions = Vec::new();
        let mut formats: Vec<Format> = self.p.formats.iter().map(|f| f.format()).collect();
        formats.sort();
        formats.dedup();
        let evidence: Vec<Evidence> = cx
            .input_all("evidence")
            .iter()
            .map(|a| Evidence::read(a))
            .collect::<Result<_>>()?;
        for f in &self.p.figures {
            let (c, spec) = (&f.common, &f.spec);
            let job = Job::of(c, cx.input_all(&c.from), &evidence, &formats);
            if job.artifacts.is_empty() {
                bail!(
                    "figure `{}` reads role `{}`, but no stage is bound to it; add `inputs: {{{}: STAGE}}`",
                    c.name,
                    c.from,
                    c.from
                );
            }
            let drawn = spec.draw(&job)?;
            let mut these = Vec::new();
            for (format, bytes) in drawn.files {
                let file = format!("{}.{}", c.name, format.extension());
                these.push(file.clone());
                out = out.file(&file, bytes);
            }
            names.push(c.name.to_string());
            types.push(spec.type_name());
            titles.push(drawn.title);
            captions.push(drawn.caption);
            files.push(these.join(","));
        }
        let table = RecordBatch::try_from_iter(vec![
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
            ("type", Arc::new(StringArray::from(types)) as ArrayRef),
            ("title", Arc::new(StringArray::from(titles)) as ArrayRef),
            ("files", Arc::new(StringArray::from(files)) as ArrayRef),
            ("caption", Arc::new(StringArray::from(captions)) as ArrayRef),
        ])?;
        out.notes.push(format!("{} figures", table.num_rows()));
        Ok(out.table("figures", table))
    }
}

#[cfg(test)]
mod tests;
