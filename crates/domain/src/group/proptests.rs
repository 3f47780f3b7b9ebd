//! Property tests: convergence whatever the arrival order, after
//! partitions, and remove-wins.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::collection::vec;
use proptest::prelude::*;

use super::tests::{add, create, key, op, remove, set_role, sync};
use super::*;

/// Identities 1..=POOL write and are written about.
const POOL: u8 = 6;

/// One step of a script run on partitioned replicas.
#[derive(Clone, Debug)]
struct Step {
    replica: usize,
    /// 0..=5: an operation (see [`kind`]); 6, 7: a sync with another replica.
    action: u8,
    author: u8,
    target: u8,
    /// Written by someone the replica sees as allowed (else by anyone).
    authorised: bool,
}

fn step(replicas: usize) -> impl Strategy<Value = Step> {
    (
        0..replicas,
        0u8..8,
        0u8..POOL,
        1u8..=POOL,
        prop::bool::weighted(0.8),
    )
        .prop_map(|(replica, action, author, target, authorised)| Step {
            replica,
            action,
            author,
            target,
            authorised,
        })
}

fn kind(action: u8, target: u8) -> GroupOpKind {
    match action {
        0 => add(target, Role::Member),
        1 => add(target, Role::Admin),
        2 => remove(target),
        3 => GroupOpKind::Leave,
        4 => set_role(target, Role::Admin),
        _ => set_role(target, Role::Member),
    }
}

/// A group created by 1, with 2 and 3 admins and 4 a member.
fn setup() -> Membership {
    let mut m = Membership::new(create(1, "squad")).unwrap();
    for (n, role) in [(2, Role::Admin), (3, Role::Admin), (4, Role::Member)] {
        let o = op(&m, 1, add(n, role));
        m.apply(o).unwrap();
    }
    m
}

/// Runs `steps` on `replicas` copies of [`setup`]; returns the replicas
/// and every operation written, in writing order.
fn run(replicas: usize, steps: &[Step]) -> (Vec<Membership>, Vec<GroupOp>) {
    run_from(vec![setup(); replicas], steps, None)
}

/// Runs `steps` on `reps`: ops written without authority are refused
/// and left out. `keep_off` is an identity no operation targets or writes.
fn run_from(
    mut reps: Vec<Membership>,
    steps: &[Step],
    keep_off: Option<u8>,
) -> (Vec<Membership>, Vec<GroupOp>) {
    let replicas = reps.len();
    let mut written = Vec::new();
    for s in steps {
        if s.action >= 6 {
            let other = usize::from(s.target) % replicas;
            if other != s.replica {
                let (mut a, mut b) = (reps[s.replica].clone(), reps[other].clone());
                sync(&mut a, &mut b);
                reps[s.replica] = a;
                reps[other] = b;
            }
            continue;
        }
        let r = &reps[s.replica];
        let author = if s.authorised {
            let allowed: Vec<u8> = (1..=POOL)
                .filter(|n| {
                    if s.action == 3 {
                        r.is_member(&key(*n))
                    } else {
                        r.is_admin(&key(*n))
                    }
                })
                .filter(|n| Some(*n) != keep_off)
                .collect();
            if allowed.is_empty() {
                continue;
            }
            allowed[usize::from(s.author) % allowed.len()]
        } else {
            s.author % POOL + 1
        };
        if Some(author) == keep_off {
            continue;
        }
        let target = if Some(s.target) == keep_off {
            s.target % POOL + 1
        } else {
            s.target
        };
        let o = op(r, author, kind(s.action, target));
        match reps[s.replica].apply(o.clone()) {
            Ok(_) => written.push(o),
            // Written without the authority: refused, everywhere alike.
            Err(MembershipError::NotAdmin | MembershipError::NotMember) => {}
            Err(e) => panic!("{e}"),
        }
    }
    (reps, written)
}

/// A fresh replica that applies `ops` (the create first) in that order.
fn replay(create: &GroupOp, ops: impl IntoIterator<Item = GroupOp>) -> Membership {
    let mut m = Membership::new(create.clone()).unwrap();
    for o in ops {
        m.apply(o).unwrap();
    }
    m
}

fn assert_same(a: &Membership, b: &Membership) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.members(), b.members());
    prop_assert_eq!(a.admins(), b.admins());
    prop_assert_eq!(a.view_hash(), b.view_hash());
    prop_assert_eq!(a.view(), b.view());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Operations written by several admins on three partitioned replicas
    /// (syncing now and then), applied in any order to fresh replicas,
    /// resolve to one view.
    #[test]
    fn any_arrival_order_resolves_the_same_view(
        steps in vec(step(3), 1..40),
        keys in vec(any::<u64>(), 48),
    ) {
        let (reps, written) = run(3, &steps);
        let mut every = setup().ops_since(&[]);
        let root = every.remove(0);
        every.extend(written);
        let reference = replay(&root, every.clone());
        prop_assert_eq!(reference.pending_count(), 0);

        let mut order: Vec<usize> = (0..every.len()).collect();
        order.sort_by_key(|&i| (keys[i % keys.len()], i));
        let shuffled = replay(&root, order.iter().map(|&i| every[i].clone()));
        prop_assert_eq!(shuffled.pending_count(), 0);
        assert_same(&shuffled, &reference)?;
        prop_assert_eq!(shuffled.heads(), reference.heads());

        let reversed = replay(&root, every.iter().rev().cloned());
        prop_assert_eq!(reversed.pending_count(), 0);
        assert_same(&reversed, &reference)?;

        // The replicas themselves, once healed, agree with it too.
        let mut healed = reps;
        for i in 1..healed.len() {
            let (mut a, mut b) = (healed[0].clone(), healed[i].clone());
            sync(&mut a, &mut b);
            healed[0] = a;
            healed[i] = b;
        }
        for r in &healed {
            let mut r = r.clone();
            let mut full = healed[0].clone();
            sync(&mut r, &mut full);
            assert_same(&r, &reference)?;
        }
    }

    /// Two replicas that diverge during a partition, each writing its own
    /// operations, converge once each sends the other `ops_since` its heads.
    #[test]
    fn diverged_replicas_converge_after_exchange(
        steps_a in vec(step(1), 0..25),
        steps_b in vec(step(1), 0..25),
    ) {
        let (mut a, _) = run(1, &steps_a);
        let (mut b, _) = run(1, &steps_b);
        let (mut a, mut b) = (a.remove(0), b.remove(0));
        let for_a = b.ops_since(&a.heads());
        let for_b = a.ops_since(&b.heads());
        for o in for_a {
            a.apply(o).unwrap();
        }
        for o in for_b {
            b.apply(o).unwrap();
        }
        assert_same(&a, &b)?;
        prop_assert_eq!(a.heads(), b.heads());
        prop_assert_eq!(a.op_count(), b.op_count());
        prop_assert_eq!(a.pending_count() + b.pending_count(), 0);
        prop_assert!(a.ops_since(&b.heads()).is_empty());
    }

    /// A member removed on one side of a partition stays removed after the
    /// heal, whatever the other side did about it concurrently (re-adds,
    /// promotions, removing the remover).
    #[test]
    fn remove_wins(
        remover in prop::sample::select(vec![1u8, 2, 3]),
        readder in prop::sample::select(vec![1u8, 2, 3]),
        steps_a in vec(step(1), 0..15),
        steps_b in vec(step(1), 0..15),
    ) {
        let victim = 4;
        let mut a = setup();
        let o = op(&a, remover, remove(victim));
        a.apply(o).unwrap();
        let (mut rest_a, _) = run_from(vec![a], &steps_a, Some(victim));
        let mut a = rest_a.remove(0);
        prop_assert!(!a.is_member(&key(victim)));

        let mut b = setup();
        for k in [add(victim, Role::Admin), set_role(victim, Role::Admin)] {
            let o = op(&b, readder, k);
            b.apply(o).unwrap();
        }
        let (mut rest_b, _) = run_from(vec![b], &steps_b, None);
        let mut b = rest_b.remove(0);

        sync(&mut a, &mut b);
        assert_same(&a, &b)?;
        prop_assert!(!a.is_member(&key(victim)));
    }
}
