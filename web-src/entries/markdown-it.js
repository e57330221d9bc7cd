// markdown-it (CommonMark + GFM tables and strikethrough, linkify) and its
// footnote plugin, as one ES module for the page.
export { default as MarkdownIt } from 'markdown-it';
export { default as footnote } from 'markdown-it-footnote';
