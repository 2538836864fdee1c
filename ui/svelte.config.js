// Svelte 5 compiles <script lang="ts"> by stripping types. Step components copy the wizard's
// state into form fields once on purpose (initial values), so that warning is not useful here.
export default {
  onwarn(warning, handler) {
    if (warning.code === 'state_referenced_locally') return;
    handler(warning);
  },
};
