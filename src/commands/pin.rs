//! `qa-pipe pin RUN [--name NAME]` and `unpin`: keep a run's artifacts through every `gc`.

use crate::error::{Error, Result};
use crate::history::pins::Pin;
use crate::history::{refs, Pins, RunLog};

use super::Project;

pub fn pin(project: &Project, run: &str, name: Option<String>) -> Result<()> {
    let store = project.root.join("artifacts");
    let records = RunLog::new(&store).read()?.records;
    let r = refs::resolve(run, &records, &Pins::load(&store), None)?;
    let name = name.unwrap_or_else(|| r.id.clone());
    let id = r.id.clone();
    Pins::update(&store, |pins| {
        if let Some(other) = pins.pins.iter().find(|p| p.name == name && p.id != id) {
            return Err(anyhow::anyhow!(
                "the name `{name}` already pins run {}: `qa-pipe unpin {name}` first",
                other.id
            ));
        }
        pins.pins.retain(|p| p.id != id);
        pins.pins.push(Pin {
            id: id.clone(),
            name: name.clone(),
            pinned_unix: crate::history::now(),
        });
        Ok(())
    })
    .map_err(|e| Error::Usage(format!("{e:#}")))?;
    println!(
        "pinned run {id}{}",
        if name != id {
            format!(" as {name}")
        } else {
            String::new()
        }
    );
    Ok(())
}

pub fn unpin(project: &Project, run: &str) -> Result<()> {
    let store = project.root.join("artifacts");
    let records = RunLog::new(&store).read()?.records;
    let pins = Pins::load(&store);
    let id = match pins.by_name(run) {
        Some(p) => p.id.clone(),
        None => refs::resolve(run, &records, &pins, None)?.id.clone(),
    };
    let removed = Pins::update(&store, |pins| {
        let before = pins.pins.len();
        pins.pins.retain(|p| p.id != id);
        Ok(before - pins.pins.len())
    })?;
    if removed == 0 {
        return Err(Error::Usage(format!("run {id} is not pinned")));
    }
    println!("unpinned run {id}");
    Ok(())
}
