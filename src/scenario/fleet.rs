//! One node's part of a fleet run: K processes (on one machine or many) run the same scenario,
//! each drives 1/K of the workload, and they share one quota and one cache through Redis.

use crate::client::cache::RedisCacheConfig;
use crate::client::limiter::Backend;
use crate::client::stack::stream_seed;
use gauntlet_wire::rate::Rate;

use super::Scenario;

/// Why a node cannot run as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FleetError {
    /// `--node-id` not below `--nodes`.
    #[error("--node-id {id} is not below --nodes {nodes} (ids are 0..{nodes})")]
    BadNodeId {
        /// The `--node-id` given.
        id: u32,
        /// The fleet size.
        nodes: u32,
    },
    /// `--nodes 0`.
    #[error("--nodes must be at least 1")]
    NoNodes,
    /// Each node would start its own embedded mock, so nothing would be shared.
    #[error(
        "a fleet needs one upstream for all nodes: give --target (an external mock-upstream or \
         API) or `upstream.target` in the scenario"
    )]
    EmbeddedUpstream,
}

/// A node's place in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeSlot {
    /// This node, `0..nodes`.
    pub id: u32,
    /// Nodes in the fleet.
    pub nodes: u32,
}

impl NodeSlot {
    /// Checks the pair.
    pub(crate) fn new(id: u32, nodes: u32) -> Result<Self, FleetError> {
        if nodes == 0 {
            return Err(FleetError::NoNodes);
        }
        if id >= nodes {
            return Err(FleetError::BadNodeId { id, nodes });
        }
        Ok(Self { id, nodes })
    }

    /// This node's share of `count` whole things (users): the first `count % nodes` nodes
    /// take one more, so the shares add up to `count`.
    pub(crate) fn share_of(self, count: u32) -> u32 {
        count / self.nodes + u32::from(self.id < count % self.nodes)
    }
}

impl Scenario {
    /// Turns the scenario into node `slot`'s part: arrival rates divided by the fleet size,
    /// closed-model users split, an own seed stream (so nodes do not send in lockstep), and the
    /// limiter told how many nodes share its quota. With `redis`, the limiter and the cache
    /// share their state there, under keys named after the scenario and seed.
    pub(crate) fn for_node(&mut self, slot: NodeSlot, redis: Option<&str>) {
        let k = f64::from(slot.nodes);
        for stage in &mut self.workload.stages {
            stage.rate = stage.rate.map(|r| Rate::per_second(r.per_sec() / k));
            stage.ramp_to = stage.ramp_to.map(|r| Rate::per_second(r.per_sec() / k));
            stage.users = stage.users.map(|u| slot.share_of(u));
        }
        self.workload.users = self.workload.users.map(|u| slot.share_of(u));
        let base_seed = self.seed;
        if slot.nodes > 1 {
            self.seed = stream_seed(base_seed, &format!("node-{}", slot.id));
        }
        let prefix = format!("gauntlet:{}:{}", self.name, base_seed);
        if let Some(limiter) = self.client.limiter.as_mut() {
            limiter.nodes = slot.nodes;
            if let Some(url) = redis {
                limiter.backend = Backend::Redis;
                limiter.redis_url = Some(url.to_string());
                if limiter.key == crate::client::limiter::LimiterConfig::default().key {
                    limiter.key = format!("{prefix}:limiter");
                }
            }
        }
        if let (Some(cache), Some(url)) = (self.client.cache.as_mut(), redis) {
            let mut r = cache.redis.take().unwrap_or_else(|| RedisCacheConfig {
                prefix: format!("{prefix}:cache"),
                ..RedisCacheConfig::default()
            });
            r.url = url.to_string();
            cache.redis = Some(r);
        }
    }

    /// Whether every node of a fleet would reach the same upstream.
    pub(crate) fn check_fleet_target(&self, target: Option<&str>) -> Result<(), FleetError> {
        if target.is_some() || self.upstream.target.is_some() {
            Ok(())
        } else {
            Err(FleetError::EmbeddedUpstream)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        for nodes in 1..6 {
            for count in 0..20 {
                let sum: u32 = (0..nodes)
                    .map(|id| NodeSlot::new(id, nodes).unwrap().share_of(count))
                    .sum();
                assert_eq!(sum, count);
            }
        }
        assert!(NodeSlot::new(3, 3).is_err());
        assert!(NodeSlot::new(0, 0).is_err());
    }

    #[test]
    fn a_node_drives_its_share_and_shares_the_quota() {
        let mut s = Scenario::parse(
            r#"
name = "t"
seed = 7
duration = "10s"
[upstream]
target = "http://127.0.0.1:9"
[workload]
stages = [{ for = "5s", rate = "6/s" }, { for = "5s", ramp_to = "12/s" }]
[client.limiter]
rate = "60/m"
[client.cache]
ttl = "1m"
"#,
            "t.toml",
        )
        .unwrap();
        s.for_node(NodeSlot::new(1, 3).unwrap(), Some("redis://127.0.0.1:6390"));
        let st = &s.workload.stages;
        assert_eq!(st[0].rate.unwrap().per_sec(), 2.0);
        assert_eq!(st[1].ramp_to.unwrap().per_sec(), 4.0);
        assert_ne!(s.seed, 7);
        let l = s.client.limiter.as_ref().unwrap();
        assert_eq!((l.backend, l.nodes), (Backend::Redis, 3));
        assert_eq!(l.key, "gauntlet:t:7:limiter");
        // The shared limit stays the fleet's; only the fallback share is divided.
        assert_eq!(l.rate.per_sec(), 1.0);
        let c = s.client.cache.as_ref().unwrap().redis.as_ref().unwrap();
        assert_eq!(c.prefix, "gauntlet:t:7:cache");
        assert_eq!(c.url, "redis://127.0.0.1:6390");
        assert!(s.check_fleet_target(None).is_ok());
    }
}
