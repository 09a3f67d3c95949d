//! The in-process backend: results equal on every rank and summed in rank order, broadcasts,
//! barriers, and every way a group can go wrong answered with an error on every rank, never a
//! hang.

use std::time::{Duration, Instant};

use distributed::{CommError, Communicator, InProcess, in_process};

#[test]
fn sums_are_equal_on_every_rank_and_taken_in_rank_order() {
    // Values whose sum depends on the order: 1e16 + 1 - 1e16 is 0 in rank order, 1 in others.
    let contributions = [1e16f64, 1.0, -1e16, 0.5];
    for _ in 0..20 {
        let results = in_process::run(4, |comm| {
            let mut v = [contributions[comm.rank()], comm.rank() as f64];
            comm.all_reduce_sum((&mut v[..]).into()).unwrap();
            v
        });
        for r in results {
            let expected = ((1e16f64 + 1.0) - 1e16) + 0.5;
            assert_eq!(r.unwrap(), [expected, 6.0]);
        }
    }
    let f32s = in_process::run(3, |comm| {
        let mut v = vec![0.25f32 * (comm.rank() + 1) as f32; 1000];
        comm.all_reduce_sum(v.as_mut_slice().into()).unwrap();
        v
    });
    for v in f32s {
        assert!(v.unwrap().iter().all(|&x| x == 1.5));
    }
}

#[test]
fn broadcasts_and_barriers_reach_every_rank() {
    let results = in_process::run(3, |comm| {
        let mut weights = vec![comm.rank() as f32; 4];
        comm.broadcast(weights.as_mut_slice().into(), 2).unwrap();
        let mut names = if comm.rank() == 0 {
            b"layer.weight [4]".to_vec()
        } else {
            Vec::new()
        };
        comm.broadcast_bytes(&mut names, 0).unwrap();
        comm.barrier().unwrap();
        (weights, names)
    });
    for r in results {
        let (weights, names) = r.unwrap();
        assert_eq!(weights, vec![2.0; 4]);
        assert_eq!(names, b"layer.weight [4]");
    }
    let one = InProcess::group(1).pop().unwrap();
    let mut v = [3.0f64];
    one.all_reduce_sum((&mut v[..]).into()).unwrap();
    assert_eq!(v, [3.0]);
}

#[test]
fn mismatched_calls_fail_on_every_rank_naming_both() {
    let results = in_process::run(2, |comm| {
        let mut v = vec![0.0f32; 3 + comm.rank()];
        let first = comm.all_reduce_sum(v.as_mut_slice().into());
        // The group is broken from then on.
        let second = comm.barrier();
        (first, second)
    });
    for r in results {
        let (first, second) = r.unwrap();
        let e = first.unwrap_err();
        assert_eq!(
            e.to_string(),
            "all_reduce_sum: rank 0 called all_reduce_sum with 3 f32 values, rank 1 called \
             all_reduce_sum with 4 f32 values"
        );
        assert_eq!(second.unwrap_err(), e);
    }
    let results = in_process::run(2, |comm| {
        if comm.rank() == 0 {
            comm.barrier()
        } else {
            let mut v = [1.0f64];
            comm.broadcast((&mut v[..]).into(), 0)
        }
    });
    for r in results {
        let e = r.unwrap().unwrap_err().to_string();
        assert!(e.contains("rank 0 called barrier with nothing, rank 1 called broadcast from rank 0 with 1 f64 values"), "{e}");
    }
    let comm = InProcess::group(2).pop().unwrap();
    let e = comm.broadcast_bytes(&mut Vec::new(), 5).unwrap_err();
    assert_eq!(
        e.to_string(),
        "broadcast_bytes: rank 5 is outside the group of 2"
    );
}

#[test]
fn a_rank_that_panics_or_leaves_fails_the_others_instead_of_hanging() {
    let start = Instant::now();
    let results = in_process::run(3, |comm| {
        if comm.rank() == 1 {
            panic!("rank 1 fails");
        }
        comm.barrier()
    });
    assert!(results[1].is_err());
    for r in [&results[0], &results[2]] {
        match r.as_ref().unwrap() {
            Err(CommError::PeerGone {
                rank: 1,
                panicked: true,
                op: "barrier",
            }) => {}
            other => panic!("{other:?}"),
        }
    }
    // A rank that returns early (its handle dropped) is reported as having left.
    let results = in_process::run(2, |comm| {
        if comm.rank() == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
        comm.barrier()
    });
    let e = results[1].as_ref().unwrap().as_ref().unwrap_err();
    assert_eq!(
        e.to_string(),
        "barrier: rank 0 left the group before joining it"
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_late_rank_times_the_others_out() {
    let mut group = InProcess::group_with_timeout(2, Duration::from_millis(100));
    let late = group.pop().unwrap();
    let early = group.pop().unwrap();
    let start = Instant::now();
    let e = early.barrier().unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        e,
        CommError::Timeout {
            op: "barrier",
            waited: match &e {
                CommError::Timeout { waited, .. } => *waited,
                _ => unreachable!(),
            },
            missing: vec![1],
        }
    );
    // The late rank finds the group broken rather than waiting for a round long gone.
    assert_eq!(late.barrier().unwrap_err(), e);
}
