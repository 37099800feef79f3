//! The quota keys' bad values are refused when the scenario is read, at their line and column.

use gauntlet::scenario::Scenario;

fn refused(client: &str) -> String {
    let text = format!(
        "name = \"keys\"\nduration = \"1s\"\n[workload]\nstages = [{{ for = \"1s\", rate = \"1/s\" }}]\n{client}"
    );
    Scenario::parse(&text, "keys.toml").unwrap_err().to_string()
}

#[test]
fn bad_shares_and_caps_name_the_file_and_line() {
    for (client, says, line) in [
        (
            "[client.answer_cap]\nwhen_remaining_below = \"150%\"\n",
            "not a share",
            "keys.toml:6",
        ),
        (
            "[client.answer_cap]\nwhen_remaining_below = nan\n",
            "not a share",
            "keys.toml:6",
        ),
        (
            "[client.limiter]\nbatch_reserve = -0.3\n",
            "not a share",
            "keys.toml:6",
        ),
        (
            "[client.limiter]\nbatch_reserve = \"0%\"\n",
            "not a share",
            "keys.toml:6",
        ),
    ] {
        let e = refused(client);
        assert!(e.contains(says) && e.contains(line), "{client}: {e}");
    }
    for (client, says) in [
        (
            "[client.answer_cap]\nmax_tokens = 0\n",
            "answer_cap.max_tokens must be at least 1",
        ),
        (
            "[client.answer_cap]\nmax_tokens = 8\nmin_tokens = 9\n",
            "min_tokens = 9 is more",
        ),
        (
            "[client.limiter]\nbatch_reserve = \"30%\"\nbatch_max_wait = \"0s\"\n",
            "batch_max_wait must be more than 0s",
        ),
    ] {
        let e = refused(client);
        assert!(e.contains(says) && e.contains("keys.toml"), "{client}: {e}");
    }
}
