// Relative positions with stock Yjs, for tests/test_comments_anchors.py: proves that the
// anchors jupyter-collab makes with pycrdt (StickyIndex, v1 encoding) are what Yjs reads, and
// that anchors Yjs makes are what jupyter-collab reads.
//
// stdin: one JSON object {"update": base64 Yjs update of the document, "cell": id or null,
//   "resolve": [base64 relative positions], "make": [[index, assoc], ...]}
// stdout: one JSON object {"resolved": [index or null], "made": [base64], "text": string}
import * as Y from 'yjs'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const doc = new Y.Doc()
Y.applyUpdate(doc, Buffer.from(request.update, 'base64'))
let text
if (request.cell === null || request.cell === undefined) {
  text = doc.getText('source')
} else {
  const cell = doc.getArray('cells').toArray().find((c) => c.get('id') === request.cell)
  text = cell.get('source')
}

const resolved = (request.resolve || []).map((encoded) => {
  const rpos = Y.decodeRelativePosition(Buffer.from(encoded, 'base64'))
  const abs = Y.createAbsolutePositionFromRelativePosition(rpos, doc)
  if (abs === null) return null
  return abs.type === text ? abs.index : -1
})
const made = (request.make || []).map(([index, assoc]) =>
  Buffer.from(
    Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(text, index, assoc))
  ).toString('base64')
)
process.stdout.write(JSON.stringify({ resolved, made, text: text.toString() }))
