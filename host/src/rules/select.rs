//! Compiled rules ([`RuleSet`]) and the selection of a config for a URL ([`Selection`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use super::pattern::{Pattern, Target};
use super::{Rule, RulesError};

/// The order of a rule within one bucket: priority, then the sorted hierarchical strings of its
/// includes for that bucket's domain, then id; compared descending.
type SortKey = (i64, Vec<String>, u64);

/// A rule with its patterns compiled.
#[derive(Debug, Clone)]
struct Compiled {
    rule: Rule,
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
    universal: bool,
}

/// What happens when a compiled rule meets a URL.
enum Outcome<'a> {
    /// No include matched.
    Miss,
    /// An include matched (`None` when the rule has no includes) but this exclude matched too.
    Excluded(&'a str),
    /// The rule applies; the include pattern that matched, if the rule has includes.
    Hit(Option<&'a str>),
}

impl Compiled {
    fn outcome(&self, url: &Target) -> Outcome<'_> {
        let include = if self.include.is_empty() {
            None
        } else {
            match self.include.iter().find(|p| p.matches(url)) {
                Some(p) => Some(p.source.as_str()),
                None => return Outcome::Miss,
            }
        };
        match self.exclude.iter().find(|p| p.matches(url)) {
            Some(p) => Outcome::Excluded(&p.source),
            None => Outcome::Hit(include),
        }
    }
}

/// The rules replacing one config (one url-matcher `URLMatcher`), bucketed and sorted.
#[derive(Debug, Clone, Default)]
struct Matcher {
    /// Rules by registered domain. foldhash (issue 17): the keys are the operator's rules; a
    /// client's URL only looks one up (see the policy on `engine::pool::Pool`'s session map).
    by_domain: foldhash::HashMap<String, Vec<(usize, SortKey)>>,
    universal: Vec<(usize, SortKey)>,
}

impl Matcher {
    /// Candidates for a URL in order: its domain's bucket, then the universal rules. The flag
    /// says whether the candidate is universal.
    fn candidates(&self, url: &Target) -> impl Iterator<Item = (&(usize, SortKey), bool)> {
        let domain = self
            .by_domain
            .get(url.domain.as_ref())
            .into_iter()
            .flatten()
            .map(|c| (c, false));
        domain.chain(self.universal.iter().map(|c| (c, true)))
    }

    fn sort(&mut self) {
        let descending = |a: &(usize, SortKey), b: &(usize, SortKey)| b.1.cmp(&a.1);
        self.by_domain
            .values_mut()
            .for_each(|bucket| bucket.sort_by(descending));
        self.universal.sort_by(descending);
    }
}

/// Rules compiled once for fast, repeated selection.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Compiled>,
    /// The matcher of the rules replacing the built-in default.
    default: Option<Matcher>,
    /// One matcher per replaced config, by its name (looked up by `&str`: no key to build per
    /// step of a selection, issue 17).
    replacing: foldhash::HashMap<String, Matcher>,
}

/// Why a config lost to the selected one (or was skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why {
    /// It matched, with a lower priority.
    LowerPriority {
        /// The winner's priority.
        winner: i64,
        /// The loser's priority.
        loser: i64,
    },
    /// Same priority, but less specific patterns (hierarchical strings, compared as lists).
    LessSpecific {
        /// The winner's sorted hierarchical strings for the URL's domain.
        winner: Vec<String>,
        /// The loser's.
        loser: Vec<String>,
    },
    /// Same priority and patterns: the later registered rule (higher id) wins.
    EarlierRule {
        /// The winner's id.
        winner: u64,
        /// The loser's id.
        loser: u64,
    },
    /// A universal rule: a rule for the URL's domain always wins over it.
    Universal,
    /// It ranked higher, but this exclude pattern matched, so it fell through.
    Excluded {
        /// The exclude pattern that matched.
        pattern: String,
    },
    /// It was selected, then replaced by a config declared `instead_of` it.
    Replaced {
        /// The replacing config.
        by: String,
    },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LowerPriority { winner, loser } => {
                write!(f, "lower priority ({loser} < {winner})")
            }
            Self::LessSpecific { winner, loser } => {
                write!(
                    f,
                    "same priority, less specific patterns ({loser:?} < {winner:?})"
                )
            }
            Self::EarlierRule { winner, loser } => {
                write!(
                    f,
                    "same priority and patterns, registered earlier (id {loser} < {winner})"
                )
            }
            Self::Universal => f.write_str("universal rule; rules for the URL's domain come first"),
            Self::Excluded { pattern } => write!(f, "excluded by {pattern:?}"),
            Self::Replaced { by } => write!(f, "replaced by {by} (instead_of)"),
        }
    }
}

/// The config chosen for a URL, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The chosen config; `None` is the built-in default.
    pub config: Option<String>,
    /// The id of the rule that chose it.
    pub rule: Option<u64>,
    /// The include pattern of that rule that matched (`None` for a rule without includes).
    pub pattern: Option<String>,
    /// The configs that also matched (or ranked higher but were excluded), and why they lost.
    pub beaten: Vec<(String, Why)>,
}

impl RuleSet {
    /// Validates and compiles rules: patterns are parsed and rules bucketed once.
    ///
    /// # Errors
    /// A rule with an include pattern without a domain (unless all its includes are empty), two
    /// rules with the same id, or an `instead_of` cycle.
    pub fn compile(rules: impl IntoIterator<Item = Rule>) -> Result<Self, RulesError> {
        let rules = rules
            .into_iter()
            .map(compile_rule)
            .collect::<Result<Vec<_>, _>>()?;
        check_unique_ids(&rules)?;
        check_no_cycle(&rules)?;
        let mut default: Option<Matcher> = None;
        let mut replacing: foldhash::HashMap<String, Matcher> = Default::default();
        for (index, compiled) in rules.iter().enumerate() {
            let matcher = match &compiled.rule.instead_of {
                None => default.get_or_insert_default(),
                Some(name) => replacing.entry(name.clone()).or_default(),
            };
            add_to_buckets(matcher, index, compiled);
        }
        default.iter_mut().for_each(Matcher::sort);
        replacing.values_mut().for_each(Matcher::sort);
        Ok(Self {
            rules,
            default,
            replacing,
        })
    }

    /// The matcher of the rules replacing `instead_of` (`None`: the built-in default).
    fn matcher(&self, instead_of: Option<&str>) -> Option<&Matcher> {
        match instead_of {
            None => self.default.as_ref(),
            Some(name) => self.replacing.get(name),
        }
    }

    /// The config for `url` (`None`: the built-in default), following `instead_of` chains.
    /// This is the fast path: it stops at the first match of each step.
    /// Without rules (no guest config loaded) the answer is the default without looking at
    /// the URL (issue 17: splitting it was a tenth of a sessions-off gateway request).
    pub fn resolve(&self, url: &str) -> Option<&str> {
        if self.rules.is_empty() {
            return None;
        }
        let url = Target::new(url);
        let mut current: Option<&str> = None;
        for _ in 0..=self.rules.len() {
            let Some(matcher) = self.matcher(current) else {
                break;
            };
            let hit = matcher.candidates(&url).find(|((index, _), _)| {
                matches!(self.rules[*index].outcome(&url), Outcome::Hit(_))
            });
            match hit {
                Some(((index, _), _)) => current = Some(&self.rules[*index].rule.name),
                None => break,
            }
        }
        current
    }

    /// Like [`RuleSet::resolve`], with the matching pattern and every config the choice beat.
    pub fn select(&self, url: &str) -> Selection {
        let url = Target::new(url);
        let mut selection = Selection::default();
        for _ in 0..=self.rules.len() {
            let Some(matcher) = self.matcher(selection.config.as_deref()) else {
                break;
            };
            let Some((index, pattern)) = self.explain_step(matcher, &url, &mut selection.beaten)
            else {
                break;
            };
            let name = self.rules[index].rule.name.clone();
            if let Some(previous) = selection.config.take() {
                selection
                    .beaten
                    .push((previous, Why::Replaced { by: name.clone() }));
            }
            selection.config = Some(name);
            selection.rule = Some(self.rules[index].rule.id);
            selection.pattern = pattern;
        }
        selection
    }

    /// The ids of every rule replacing `instead_of` (`None`: the built-in default) that matches
    /// `url`, best first (url-matcher's `match_all`).
    pub fn match_all(&self, url: &str, instead_of: Option<&str>) -> Vec<u64> {
        let url = Target::new(url);
        let Some(matcher) = self.matcher(instead_of) else {
            return Vec::new();
        };
        matcher
            .candidates(&url)
            .filter(|((index, _), _)| matches!(self.rules[*index].outcome(&url), Outcome::Hit(_)))
            .map(|((index, _), _)| self.rules[*index].rule.id)
            .collect()
    }

    /// One step of the chain: the winning rule index and pattern, recording the losers.
    fn explain_step(
        &self,
        matcher: &Matcher,
        url: &Target,
        beaten: &mut Vec<(String, Why)>,
    ) -> Option<(usize, Option<String>)> {
        let mut winner: Option<(usize, Option<String>, &SortKey, bool)> = None;
        for ((index, key), universal) in matcher.candidates(url) {
            let compiled = &self.rules[*index];
            let name = compiled.rule.name.clone();
            match (compiled.outcome(url), &winner) {
                (Outcome::Miss, _) | (Outcome::Excluded(_), Some(_)) => {}
                (Outcome::Excluded(pattern), None) => {
                    beaten.push((
                        name,
                        Why::Excluded {
                            pattern: pattern.to_owned(),
                        },
                    ));
                }
                (Outcome::Hit(pattern), None) => {
                    winner = Some((*index, pattern.map(str::to_owned), key, universal));
                }
                (Outcome::Hit(_), Some((_, _, best, best_universal))) => {
                    beaten.push((name, why_lost(best, *best_universal, key, universal)));
                }
            }
        }
        winner.map(|(index, pattern, _, _)| (index, pattern))
    }
}

/// Why the rule with key `loser` comes after the one with key `winner`.
fn why_lost(winner: &SortKey, winner_universal: bool, loser: &SortKey, universal: bool) -> Why {
    if universal && !winner_universal {
        Why::Universal
    } else if winner.0 != loser.0 {
        Why::LowerPriority {
            winner: winner.0,
            loser: loser.0,
        }
    } else if winner.1 != loser.1 {
        Why::LessSpecific {
            winner: winner.1.clone(),
            loser: loser.1.clone(),
        }
    } else {
        Why::EarlierRule {
            winner: winner.2,
            loser: loser.2,
        }
    }
}

fn compile_rule(rule: Rule) -> Result<Compiled, RulesError> {
    let include: Vec<Pattern> = rule.include.iter().map(|p| Pattern::new(p)).collect();
    let exclude = rule.exclude.iter().map(|p| Pattern::new(p)).collect();
    let universal = rule.include.iter().all(String::is_empty);
    if let Some(bad) = include.iter().find(|p| !universal && p.domain.is_none()) {
        return Err(RulesError::IncludeWithoutDomain {
            id: rule.id,
            name: rule.name.clone(),
            pattern: bad.source.clone(),
        });
    }
    Ok(Compiled {
        rule,
        include,
        exclude,
        universal,
    })
}

/// Puts a rule in the bucket of each distinct registered domain of its includes, or in the
/// universal list. A pattern whose domain is empty (`:8080`) lands in no bucket, as upstream.
fn add_to_buckets(matcher: &mut Matcher, index: usize, compiled: &Compiled) {
    let rule = &compiled.rule;
    if compiled.universal {
        matcher
            .universal
            .push((index, (rule.priority, Vec::new(), rule.id)));
        return;
    }
    let domains: HashSet<&str> = compiled
        .include
        .iter()
        .filter_map(|p| p.domain.as_deref())
        .collect();
    for domain in domains.into_iter().filter(|d| !d.is_empty()) {
        let mut strings: Vec<String> = compiled
            .include
            .iter()
            .filter(|p| p.domain.as_deref() == Some(domain))
            .map(|p| p.hierarchical.clone())
            .collect();
        strings.sort();
        let key = (rule.priority, strings, rule.id);
        matcher
            .by_domain
            .entry(domain.to_owned())
            .or_default()
            .push((index, key));
    }
}

fn check_unique_ids(rules: &[Compiled]) -> Result<(), RulesError> {
    let mut seen: HashMap<u64, &str> = HashMap::new();
    for Compiled { rule, .. } in rules {
        if let Some(first) = seen.insert(rule.id, &rule.name) {
            return Err(RulesError::DuplicateId {
                id: rule.id,
                first: first.to_owned(),
                second: rule.name.clone(),
            });
        }
    }
    Ok(())
}

/// Rejects `instead_of` cycles: Kahn's algorithm on the "replaced by" graph, then a walk back
/// along `instead_of` edges among the leftover nodes, which must close a cycle.
fn check_no_cycle(rules: &[Compiled]) -> Result<(), RulesError> {
    let edges: Vec<(&str, &Rule)> = rules
        .iter()
        .filter_map(|c| c.rule.instead_of.as_deref().map(|target| (target, &c.rule)))
        .collect();
    let mut in_degree: HashMap<&str, usize> = HashMap::new();
    let mut replaced_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (target, rule) in &edges {
        in_degree.entry(target).or_default();
        *in_degree.entry(rule.name.as_str()).or_default() += 1;
        replaced_by.entry(target).or_default().push(&rule.name);
    }
    let mut queue: VecDeque<&str> = in_degree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    while let Some(node) = queue.pop_front() {
        for next in replaced_by.get(node).into_iter().flatten() {
            if let Some(degree) = in_degree.get_mut(next) {
                *degree -= 1;
                if *degree == 0 {
                    queue.push_back(next);
                }
            }
        }
    }
    let left = |name: &str| in_degree.get(name).is_some_and(|d| *d > 0);
    let Some((_, start)) = edges
        .iter()
        .find(|(target, rule)| left(target) && left(&rule.name))
    else {
        return Ok(());
    };
    Err(cycle_error(&edges, start, left))
}

/// Walks `instead_of` edges among the leftover nodes from `start` until a config repeats.
fn cycle_error(edges: &[(&str, &Rule)], start: &Rule, left: impl Fn(&str) -> bool) -> RulesError {
    let mut path: Vec<&str> = vec![&start.name];
    let mut current = start.name.as_str();
    loop {
        let next = edges
            .iter()
            .find(|(target, rule)| rule.name == current && left(target))
            .map(|(target, _)| *target);
        let Some(next) = next else { break };
        if let Some(at) = path.iter().position(|n| *n == next) {
            path.drain(..at);
            path.push(next);
            break;
        }
        path.push(next);
        current = next;
    }
    let on_cycle = edges
        .iter()
        .find(|(target, rule)| {
            Some(&rule.name.as_str()) == path.first() && path.get(1) == Some(target)
        })
        .map_or(start, |(_, rule)| *rule);
    RulesError::InsteadOfCycle {
        id: on_cycle.id,
        name: on_cycle.name.clone(),
        cycle: path.into_iter().map(str::to_owned).collect(),
    }
}
