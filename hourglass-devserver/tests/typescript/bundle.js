'use strict';
// Bundles workflows.js with the official SDK's webpack bundler once, into
// workflow-bundle.js (written to a temporary file and renamed, so concurrent runs are safe).
const fs = require('fs');
const path = require('path');
const { bundleWorkflowCode } = require('@temporalio/worker');

async function main() {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  const out = path.join(__dirname, 'workflow-bundle.js');
  const tmp = `${out}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, out);
  console.log(`bundled ${code.length} bytes into ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
