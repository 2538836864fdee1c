// Svelte 5 compiles <script lang="ts"> by stripping types; nothing else to configure.
export default {};
