//! A whole year for everyone: route facts to subjects, evaluate each, then the group stage.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::engine::{Context, FastMap, FastSet, SubjectEvaluation, evaluate_subject};
use super::facts::{
    Activities, Fact, FactId, FactKind, Org, OrgId, Person, PersonId, Subject, SubjectId,
};
use super::group::evaluate_group;

/// Everything recorded for a year, in memory.
#[derive(Debug, Clone, Default)]
pub struct YearData {
    pub orgs: Vec<Org>,
    pub persons: Vec<Person>,
    pub activities: Activities,
    pub facts: Vec<Fact>,
    /// Carried in from the previous year's frozen results (EQ-5's consecutive quarters).
    pub carried: Carried,
}

/// Per person and group rule: how many consecutive periods the person was last in at
/// the end of the previous year, under the same policy. A consecutive ranking continues
/// that run (EQ-5: Q3 and Q4 of one year and Q1 and Q2 of the next are four in a row).
pub type Carried = BTreeMap<(PersonId, Arc<str>), u32>;

/// Evaluations in the order of `YearData::persons` and `YearData::orgs`.
#[derive(Debug, Clone, PartialEq)]
pub struct YearEvaluation {
    pub persons: Vec<SubjectEvaluation>,
    pub orgs: Vec<SubjectEvaluation>,
    /// Facts that name no known subject, or annul nothing known.
    pub unrouted: Vec<FactId>,
}

#[derive(Clone, Copy)]
enum Slot {
    Person(usize),
    Org(usize),
}

/// Replays a year: every subject, then (at year end) the group rules.
pub fn evaluate_year(ctx: &Context<'_>, data: &YearData) -> YearEvaluation {
    let person_ix: FastMap<PersonId, usize> = data
        .persons
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id, i))
        .collect();
    let org_ix: FastMap<OrgId, usize> = data
        .orgs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id, i))
        .collect();
    let mut person_facts: Vec<Vec<&Fact>> = vec![Vec::new(); data.persons.len()];
    let mut org_facts: Vec<Vec<&Fact>> = vec![Vec::new(); data.orgs.len()];
    // Only facts that are annulled need to be found again by id.
    let targets: FastSet<FactId> = data
        .facts
        .iter()
        .filter_map(|f| match f.kind {
            FactKind::Annul { target } => Some(target),
            _ => None,
        })
        .collect();
    let mut route: FastMap<FactId, Slot> = FastMap::default();
    let mut annuls: Vec<&Fact> = Vec::new();
    let mut unrouted = Vec::new();
    for f in &data.facts {
        let slot = match f.subject() {
            None => {
                annuls.push(f);
                continue;
            }
            Some(SubjectId::Person(p)) => person_ix.get(&p).map(|i| Slot::Person(*i)),
            Some(SubjectId::Org(o)) => org_ix.get(&o).map(|i| Slot::Org(*i)),
        };
        match slot {
            Some(s) => {
                push(&mut person_facts, &mut org_facts, s, f);
                if targets.contains(&f.id) {
                    route.insert(f.id, s);
                }
            }
            None => unrouted.push(f.id),
        }
    }
    // An annulment goes where its target went; annulments of annulments follow the chain.
    loop {
        let before = annuls.len();
        annuls.retain(|a| {
            let FactKind::Annul { target } = a.kind else {
                return false;
            };
            match route.get(&target).copied() {
                Some(s) => {
                    push(&mut person_facts, &mut org_facts, s, a);
                    route.insert(a.id, s);
                    false
                }
                None => true,
            }
        });
        if annuls.len() == before {
            break;
        }
    }
    unrouted.extend(annuls.iter().map(|a| a.id));

    let mut persons: Vec<SubjectEvaluation> = data
        .persons
        .iter()
        .zip(&person_facts)
        .map(|(p, facts)| {
            evaluate_subject(
                ctx,
                &Subject::Person(p.clone()),
                facts.iter().copied(),
                &data.activities,
            )
        })
        .collect();
    let mut orgs: Vec<SubjectEvaluation> = data
        .orgs
        .iter()
        .zip(&org_facts)
        .map(|(o, facts)| {
            evaluate_subject(
                ctx,
                &Subject::Org(o.clone()),
                facts.iter().copied(),
                &data.activities,
            )
        })
        .collect();
    if ctx.year_end {
        evaluate_group(ctx, &mut persons, &data.carried);
        evaluate_group(ctx, &mut orgs, &data.carried);
    }
    YearEvaluation {
        persons,
        orgs,
        unrouted,
    }
}

fn push<'a>(persons: &mut [Vec<&'a Fact>], orgs: &mut [Vec<&'a Fact>], slot: Slot, f: &'a Fact) {
    match slot {
        Slot::Person(i) => persons[i].push(f),
        Slot::Org(i) => orgs[i].push(f),
    }
}
