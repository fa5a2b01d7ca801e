// SPDX-License-Identifier: MIT
// An agent-style loop against `sandboxvm serve`: a sandbox whose network is
// an allowlist with a secret injected for one host, a task written into it,
// a program run with its output streamed, the result file read back, a
// snapshot of the sandbox's files, and the end.
//
//   sandboxvm serve &              # or: SANDBOXVM_SOCKET=/path/to.sock
//   node clients/node/dist/examples/agent.js   (built from src/examples/agent.ts)

import { Client, type Result, type Secret } from "../index.js";

const PROGRAM = `
words=$(cat /tmp/task/input.txt)
n=0
for w in $words; do n=$((n + 1)); echo "step $n: $w"; sleep 0.05; done
# The secret's value never enters the sandbox: only a placeholder, which the
# host's proxy replaces in requests bound for its host (and only there).
echo "API_TOKEN in here is $(printf %.12s "$API_TOKEN")..."
printf '{"words": %d}\\n' "$n" >/tmp/task/result.json
`;

const client = new Client();
const secrets: Secret[] = [{ name: "API_TOKEN", value: process.env.API_TOKEN ?? "demo-token", host: "api.example.com" }];
const settings = {
  network: { mode: "allow", allow: ["api.example.com"], secrets },
  limits: { time: 60, memory: "512M" },
};
const snapshot = `agent-demo-${process.pid}`;
let end: Result | undefined;
const sb = await client.create({ settings, idleTimeout: 300 });
try {
  console.log("sandbox", sb.id);
  await sb.run(["mkdir", "-p", "/tmp/task"]);
  await sb.writeFile("/tmp/task/input.txt", "the quick brown fox jumps over the lazy dog\n");
  await sb.writeFile("/tmp/task/main.sh", PROGRAM);
  for await (const ev of sb.stream(["sh", "/tmp/task/main.sh"], { cwd: "/tmp/task", timeout: 30 })) {
    if (ev.type === "stdout" || ev.type === "stderr") process.stdout.write("  | " + ev.data!.toString());
    else if (ev.type === "end") end = ev.result;
  }
  console.log("job:", end?.message);
  console.log("result:", JSON.parse((await sb.readFile("/tmp/task/result.json")).toString()));
  console.log("snapshot:", (await sb.snapshot(snapshot)).name);
} finally {
  await sb.destroy();
}
// The snapshot outlives the sandbox: a restore starts from its files.
const again = await client.restore(snapshot, { secrets });
try {
  console.log("restored:", (await again.readFile("/tmp/task/result.json")).toString().trim());
} finally {
  await again.destroy();
  await client.deleteSnapshot(snapshot);
  client.close();
}
process.exitCode = end?.outcome === "exited" && end?.exit_code === 0 ? 0 : 1;
