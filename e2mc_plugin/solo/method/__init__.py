"""The wrapped method: ``class <Method>WithAux(AuxLossesMixin, <Method>)`` (:mod:`.wrapper`), its
hooks (:mod:`.mixin`) and the modules they call: embedding capture (:mod:`.capture`,
:mod:`.embedding`), param-group lrs (:mod:`.param_groups`), the resume policy (:mod:`.resume`);
the ``<method>_aux`` registration (:mod:`.registration`) and the guard against plain methods
carrying plugin blocks (:mod:`.guard`)."""
