// lowlight's core (highlight.js's engine producing a tree, not HTML); the
// grammars are separate modules, loaded when a code block needs one.
export { createLowlight } from 'lowlight';
