//! An ARM resource path under `/subscriptions/{sub}`, parsed once: the subscription, the
//! resource group, the provider namespace and the `type/name` steps after it. The router
//! matches requests on this, and handlers read the resource ids in bodies (a gallery image
//! of a template, a deployment's group) with it, instead of on positions in a list of
//! segments.

/// One `type[/name]` step of a resource path: `galleries/g`, `versions`, `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The type (or action) as the client spelled it.
    pub kind: String,
    /// The name after it, as sent (decoded); `None` for a collection or an action.
    pub name: Option<String>,
}

/// `/subscriptions/{sub}[/resourceGroups/{rg}][/providers/{namespace}]/{type}/{name}/...`,
/// matched case-insensitively as ARM does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub sub: String,
    pub rg: Option<String>,
    /// The provider namespace as sent (`Microsoft.Compute`).
    pub provider: Option<String>,
    /// The `type/name` pairs after the provider (or after the group or subscription when
    /// there is none). Every step but the last has a name.
    pub steps: Vec<Step>,
}

impl ResourcePath {
    /// Parse decoded path segments; `None` unless they start `subscriptions/{sub}`.
    pub fn parse(segs: &[String]) -> Option<ResourcePath> {
        let [first, sub, rest @ ..] = segs else {
            return None;
        };
        if !first.eq_ignore_ascii_case("subscriptions") {
            return None;
        }
        let mut rest = rest;
        let mut rg = None;
        if let [kind, name, tail @ ..] = rest
            && kind.eq_ignore_ascii_case("resourcegroups")
        {
            rg = Some(name.clone());
            rest = tail;
        }
        let mut provider = None;
        if let [kind, namespace, tail @ ..] = rest
            && kind.eq_ignore_ascii_case("providers")
        {
            provider = Some(namespace.clone());
            rest = tail;
        }
        let steps = rest
            .chunks(2)
            .map(|pair| Step {
                kind: pair[0].clone(),
                name: pair.get(1).cloned(),
            })
            .collect();
        Some(ResourcePath {
            sub: sub.clone(),
            rg,
            provider,
            steps,
        })
    }

    /// Parse a resource id as it appears in a body (`/subscriptions/.../images/i`); `None`
    /// unless it starts `/subscriptions/{sub}`.
    pub fn parse_id(id: &str) -> Option<ResourcePath> {
        let segs: Vec<String> = id
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Self::parse(&segs)
    }

    /// The provider namespace in lower case, for matching.
    pub fn namespace(&self) -> Option<String> {
        self.provider.as_deref().map(str::to_ascii_lowercase)
    }

    /// The step types in lower case, for matching (`["galleries", "images", "versions"]`).
    pub fn kinds(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| s.kind.to_ascii_lowercase())
            .collect()
    }

    /// Whether the last step names a resource (`versions/1.0.0`, not `versions` or `run`).
    pub fn ends_named(&self) -> bool {
        self.steps.last().is_some_and(|s| s.name.is_some())
    }

    /// The name of step `i` (empty when it has none).
    pub fn name(&self, i: usize) -> String {
        self.steps
            .get(i)
            .and_then(|s| s.name.clone())
            .unwrap_or_default()
    }

    /// The resource group (empty when the path has none).
    pub fn group(&self) -> String {
        self.rg.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn parses_group_provider_and_steps() {
        let p = ResourcePath::parse(&segs(
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/galleries/g/images/i/versions",
        ))
        .expect("an ARM path");
        assert_eq!(p.sub, "S");
        assert_eq!(p.rg.as_deref(), Some("RG"));
        assert_eq!(p.namespace().as_deref(), Some("microsoft.compute"));
        assert_eq!(p.kinds(), ["galleries", "images", "versions"]);
        assert!(!p.ends_named());
        assert_eq!(
            (p.name(0), p.name(1), p.name(2)),
            ("g".into(), "i".into(), String::new())
        );
    }

    #[test]
    fn subscription_level_paths_and_collections() {
        let p = ResourcePath::parse(&segs("/SUBSCRIPTIONS/s/resourcegroups")).expect("parsed");
        assert_eq!((p.rg.as_deref(), p.provider.as_deref()), (None, None));
        assert_eq!(p.kinds(), ["resourcegroups"]);
        let p = ResourcePath::parse(&segs("/subscriptions/s/operationresults/x")).expect("parsed");
        assert_eq!(p.kinds(), ["operationresults"]);
        assert!(p.ends_named());
        let p = ResourcePath::parse(&segs("/subscriptions/s/resourcegroups/rg")).expect("parsed");
        assert_eq!(p.group(), "rg");
        assert!(p.steps.is_empty());
    }

    #[test]
    fn other_paths_are_not_arm() {
        assert_eq!(ResourcePath::parse(&segs("/subscriptions")), None);
        assert_eq!(ResourcePath::parse(&segs("/blob/a/c")), None);
        assert_eq!(ResourcePath::parse(&[]), None);
    }
}
